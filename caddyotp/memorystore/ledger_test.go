package memorystore

import (
	"fmt"
	"testing"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/storetest"
)

// TestMemoryStoreLedgerIndex: the index of message ids follows the ring: an id leaves it
// with its entry, so it never grows past the ring, and a trimmed entry is unknown even
// after it took a report.
func TestMemoryStoreLedgerIndex(t *testing.T) {
	s := newTestMemoryStore(t, nil)
	for i := range caddyotp.LedgerKeep {
		storetest.AppendLedger(t, s, storetest.LedgerEntry("login", i))
	}
	for i := range 5 {
		if out, _ := storetest.ApplyReport(t, s, "login", storetest.Delivered(fmt.Sprintf("m-%d", i))); out != caddyotp.ReportApplied {
			t.Fatalf("m-%d: expected applied, got %s", i, out)
		}
	}
	expectIndexed(t, s, caddyotp.LedgerKeep)

	// A send without a message id has no id to index; three entries push out m-0 to m-2.
	refused := storetest.LedgerEntry("login", -1)
	refused.MessageID, refused.Status = "", "failed"
	storetest.AppendLedger(t, s, refused)
	for i := caddyotp.LedgerKeep; i < caddyotp.LedgerKeep+2; i++ {
		storetest.AppendLedger(t, s, storetest.LedgerEntry("login", i))
	}
	expectIndexed(t, s, caddyotp.LedgerKeep-1)
	for _, id := range []string{"m-0", "m-1", "m-2"} {
		if out, _ := storetest.ApplyReport(t, s, "login", storetest.Delivered(id)); out != caddyotp.ReportUnknown {
			t.Fatalf("%s: expected unknown once trimmed, got %s", id, out)
		}
	}
	if out, _ := storetest.ApplyReport(t, s, "login", storetest.Delivered("m-3")); out != caddyotp.ReportDuplicate {
		t.Fatalf("m-3: expected a duplicate while kept, got %s", out)
	}

	// A newer entry of an id takes the id over; the older one keeps its report.
	storetest.AppendLedger(t, s, storetest.LedgerEntry("login", 4))
	if out, _ := storetest.ApplyReport(t, s, "login", storetest.Delivered("m-4")); out != caddyotp.ReportApplied {
		t.Fatalf("the newer m-4: expected applied, got %s", out)
	}
	ledger := storetest.RecentLedger(t, s, "login", 2*caddyotp.LedgerKeep)
	if first, last := ledger[0], ledger[len(ledger)-1]; first.MessageID != "m-4" || first.Status != "delivered" || last.MessageID != "m-4" || last.Status != "delivered" {
		t.Fatalf("expected both entries of m-4 delivered, got %s and %s", storetest.EntryString(first), storetest.EntryString(last))
	}
	expectIndexed(t, s, caddyotp.LedgerKeep-2) // m-3 went; the two entries of m-4 have one id
}

// expectIndexed checks how many ids the login ledger's index holds, and that each names
// an entry of that id.
func expectIndexed(t *testing.T, s *MemoryStore, want int) {
	t.Helper()
	st := s.state
	st.mu.Lock()
	defer st.mu.Unlock()
	r := st.ledgers["login"]
	if len(r.byID) != want {
		t.Fatalf("expected %d ids indexed, got %d", want, len(r.byID))
	}
	for id, i := range r.byID {
		if got := r.slots[i].entry.MessageID; got != id {
			t.Fatalf("expected the index's %s to name its entry, got %s", id, got)
		}
	}
}

// TestMemoryStoreReportDetached: what ApplyReport and RecentLedger return shares nothing
// with what the store keeps.
func TestMemoryStoreReportDetached(t *testing.T) {
	s := newTestMemoryStore(t, nil)
	storetest.AppendLedger(t, s, storetest.LedgerEntry("login", 1))
	_, e := storetest.ApplyReport(t, s, "login", storetest.Delivered("m-1"))
	*e.BilledUSD = 9
	got := storetest.RecentLedger(t, s, "login", 1)[0]
	*got.BilledUSD, *got.ReportedAt = 8, got.ReportedAt.AddDate(1, 0, 0)
	if again := storetest.RecentLedger(t, s, "login", 1)[0]; *again.BilledUSD != 0.05 || again.ReportedAt.Year() != 2030 {
		t.Fatalf("expected the kept entry unchanged, got %s", storetest.EntryString(again))
	}
}
