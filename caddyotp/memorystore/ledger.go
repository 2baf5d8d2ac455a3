package memorystore

import (
	"context"
	"time"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// AppendLedger implements Store. An SMS that left is counted in the same step, with the
// price its provider told at the send, if any (a full store drops the count, never the
// entry).
func (s *MemoryStore) AppendLedger(_ context.Context, e caddyotp.LedgerEntry) error {
	st, now := s.enter()
	defer st.mu.Unlock()
	r, ok := st.ledgers[e.Template]
	if !ok {
		r = &ledgerRing{byID: make(map[string]int)}
		st.ledgers[e.Template] = r
	}
	e.Time = e.Time.Round(0) // no monotonic reading, as a shared store would give it back
	r.add(detached(e))
	if caddyotp.CountsSend(e) {
		add := caddyotp.DailyCount{Sent: 1, EstimatedMicroUSD: caddyotp.ToMicroUSD(e.PriceUSD)}
		if e.BilledUSD != nil {
			add.BilledMicroUSD = caddyotp.ToMicroUSD(*e.BilledUSD)
		}
		s.countBeside(st, e.Template, e.Time, caddyotp.StatsCountry(e.Country), add, now)
	}
	return nil
}

// RecentLedger implements Store.
func (s *MemoryStore) RecentLedger(_ context.Context, template string, n int) ([]caddyotp.LedgerEntry, error) {
	st, _ := s.enter()
	defer st.mu.Unlock()
	r, ok := st.ledgers[template]
	if !ok || n <= 0 {
		return []caddyotp.LedgerEntry{}, nil
	}
	return r.newest(n), nil
}

// ApplyReport implements Store. The entry is changed in place in the ring, the spend of its
// day and month is corrected only where the store still holds that period, and the report
// is counted on the entry's day and country (a full store drops the count, never the
// report).
func (s *MemoryStore) ApplyReport(_ context.Context, template string, r caddyotp.Report) (caddyotp.ReportOutcome, caddyotp.LedgerEntry, error) {
	if err := caddyotp.CheckReport(r); err != nil {
		return "", caddyotp.LedgerEntry{}, err
	}
	st, now := s.enter()
	defer st.mu.Unlock()
	ring, ok := st.ledgers[template]
	if !ok {
		return caddyotp.ReportUnknown, caddyotp.LedgerEntry{}, nil
	}
	i, ok := ring.byID[r.MessageID]
	if !ok {
		return caddyotp.ReportUnknown, caddyotp.LedgerEntry{}, nil
	}
	slot := &ring.slots[i]
	if slot.reported {
		return caddyotp.ReportDuplicate, caddyotp.LedgerEntry{}, nil
	}
	before := slot.entry
	slot.entry = caddyotp.ReportedEntry(before, r)
	slot.reported = true
	st.correctBudget(before.Time, caddyotp.ReportCorrection(before, r), now)
	s.countBeside(st, template, before.Time, caddyotp.StatsCountry(before.Country), reportCount(before, r), now)
	return caddyotp.ReportApplied, detached(slot.entry), nil
}

// reportCount is what r adds to the daily counts of e: a delivered or a failed SMS and,
// with a price, what it billed beyond the price counted at the send.
func reportCount(e caddyotp.LedgerEntry, r caddyotp.Report) caddyotp.DailyCount {
	var c caddyotp.DailyCount
	if r.Status == caddyotp.ReportDelivered {
		c.Delivered = 1
	} else {
		c.Failed = 1
	}
	c.BilledMicroUSD = caddyotp.BilledCorrection(e, r)
	return c
}

// correctBudget moves the spend of the UTC day and month of at by microUSD, never below
// zero, without a cap: a report tells what was spent. A period the store no longer holds
// is left alone. The caller holds mu.
func (st *memoryState) correctBudget(at time.Time, microUSD int64, now time.Time) {
	if microUSD == 0 {
		return
	}
	dayKey, monthKey := caddyotp.BudgetPeriods(at)
	for _, key := range []string{dayKey, monthKey} {
		sp, ok := st.budget.Get(key, now)
		if !ok {
			continue
		}
		sp.microUSD = max(sp.microUSD+microUSD, 0)
		st.budget.Set(key, sp, sp.expires, now) // held: an update, never refused
	}
}

// ledgerRing keeps the newest LedgerKeep entries of one template, and finds an entry by its
// message id for a report.
type ledgerRing struct {
	slots []ledgerSlot
	next  int            // where the next entry goes once the ring is full
	byID  map[string]int // message id → its slot, for the entries the ring holds (the newest of an id)
}

// ledgerSlot is one entry of the ring and whether it has taken a report.
type ledgerSlot struct {
	entry    caddyotp.LedgerEntry
	reported bool
}

func (r *ledgerRing) add(e caddyotp.LedgerEntry) {
	i := len(r.slots)
	if i < caddyotp.LedgerKeep {
		r.slots = append(r.slots, ledgerSlot{entry: e})
	} else {
		i = r.next
		// The index follows the ring: an id leaves it with its entry, unless a newer entry
		// of the same id took it over.
		if old := r.slots[i].entry.MessageID; old != "" && r.byID[old] == i {
			delete(r.byID, old)
		}
		r.slots[i] = ledgerSlot{entry: e}
		r.next = (r.next + 1) % caddyotp.LedgerKeep
	}
	if e.MessageID != "" {
		r.byID[e.MessageID] = i
	}
}

// newest returns at most n entries, newest first.
func (r *ledgerRing) newest(n int) []caddyotp.LedgerEntry {
	size := len(r.slots)
	n = min(n, size)
	out := make([]caddyotp.LedgerEntry, n)
	for i := range n {
		out[i] = detached(r.slots[(r.next-1-i+2*size)%size].entry)
	}
	return out
}

// detached is e with pointers of its own, so that what a caller gets from the store and
// what the store keeps never share a value (as they would not through Redis).
func detached(e caddyotp.LedgerEntry) caddyotp.LedgerEntry {
	if e.BilledUSD != nil {
		v := *e.BilledUSD
		e.BilledUSD = &v
	}
	if e.ReportedAt != nil {
		v := *e.ReportedAt
		e.ReportedAt = &v
	}
	return e
}
