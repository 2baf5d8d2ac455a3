package main

import (
	"bufio"
	"fmt"
	"log"
	"os"
	"slices"
	"strconv"
	"strings"
)

// rows are the measurements of a round, in the order of the table, with what they are.
var rows = []struct{ name, what string }{
	{"respond", "`respond \"ok\"` alone"},
	{"respond_lua", "`respond` with the 1,000-cookie Lua rotation (the baseline of the rotated rows)"},
	{"respond_cookie", "`respond` sent the one session's cookie (the baseline of the one-session gate row)"},
	{"gate_1", "`otp_gate` + `respond`, one session"},
	{"gate_1000", "`otp_gate` + `respond`, 1,000 sessions rotated"},
	{"security_1", "caddy-security `authorize` + `respond`, one JWT"},
	{"security_1000", "caddy-security `authorize` + `respond`, 1,000 JWTs rotated"},
	{"proxy", "`reverse_proxy` to the upstream"},
	{"gate_1_proxy", "`otp_gate` + `reverse_proxy`, one session"},
	{"gate_1000_proxy", "`otp_gate` + `reverse_proxy`, 1,000 sessions rotated"},
	{"forward_auth", "`forward_auth` (cookie check) + `respond`"},
	{"send_otp", "`send-otp` to new mobiles (Redis, SNS double)"},
	{"verify_wrong", "`verify-otp` wrong codes (live codes)"},
	{"verify_right", "`verify-otp` right codes (each once)"},
	{"cycle", "send → read code → verify cycles (Go client)"},
}

// goals are the goals as ratios of two rows of the same round.
var goals = []struct {
	what     string
	num, den string
	min      float64
}{
	{"gate, one session ≥ 95% of `respond`", "gate_1", "respond", 0.95},
	{"gate, one session ≥ 95% of `respond` sent the same cookie (in turns)", "gate_1", "respond_cookie", 0.95},
	{"gate, 1,000 sessions ≥ 95% of `respond`", "gate_1000", "respond", 0.95},
	{"gate, 1,000 sessions ≥ 95% of `respond` with the same Lua rotation", "gate_1000", "respond_lua", 0.95},
	{"gate + proxy, one session ≥ 98% of `reverse_proxy`", "gate_1_proxy", "proxy", 0.98},
	{"gate + proxy, 1,000 sessions ≥ 98% of `reverse_proxy`", "gate_1000_proxy", "proxy", 0.98},
	{"gate ≥ caddy-security, one token", "gate_1", "security_1", 1},
	{"gate ≥ caddy-security, 1,000 tokens", "gate_1000", "security_1000", 1},
	{"gate > 3× `forward_auth`", "gate_1", "forward_auth", 3},
	{"`verify-otp` wrong codes ≥ 40% of `respond`", "verify_wrong", "respond", 0.40},
	{"`verify-otp` right codes ≥ 40% of `respond`", "verify_right", "respond", 0.40},
}

// summary prints the Markdown summary of a results.tsv: medians over the rounds of each
// rate and of each ratio taken within a round.
func summary(args []string) {
	if len(args) != 2 {
		log.Fatal("usage: benchtool summary results.tsv machine.txt")
	}
	f, err := os.Open(args[0])
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	rate := map[string]map[string]float64{} // round → row → req/s
	var rounds []string
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) < 3 {
			continue
		}
		v, err := strconv.ParseFloat(fields[2], 64)
		if err != nil {
			continue
		}
		if rate[fields[0]] == nil {
			rate[fields[0]] = map[string]float64{}
			rounds = append(rounds, fields[0])
		}
		rate[fields[0]][fields[1]] = v
	}
	machine, _ := os.ReadFile(args[1])
	for _, line := range strings.Split(strings.TrimSpace(string(machine)), "\n") {
		fmt.Printf("- %s\n", line)
	}
	ratios := func(num, den string) []float64 {
		var out []float64
		for _, r := range rounds {
			if n, d := rate[r][num], rate[r][den]; n > 0 && d > 0 {
				out = append(out, n/d)
			}
		}
		return out
	}
	fmt.Printf("\n| measurement | req/s (median) | req/s per round | ratio to `respond` (median; per round) |\n| --- | ---: | --- | --- |\n")
	for _, row := range rows {
		var vs []float64
		for _, r := range rounds {
			if v, ok := rate[r][row.name]; ok {
				vs = append(vs, v)
			}
		}
		if len(vs) == 0 {
			continue
		}
		rs := ratios(row.name, "respond")
		fmt.Printf("| %s | %.0f | %s | %.2f; %s |\n", row.what, median(vs), join(vs, "%.0f"), median(rs), join(rs, "%.2f"))
	}
	fmt.Printf("\n| goal | ratio (median; per round) | met |\n| --- | --- | --- |\n")
	for _, g := range goals {
		rs := ratios(g.num, g.den)
		if len(rs) == 0 {
			continue
		}
		met := "no"
		if median(rs) >= g.min {
			met = "yes"
		}
		fmt.Printf("| %s | %.2f; %s | %s |\n", g.what, median(rs), join(rs, "%.2f"), met)
	}
}

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func join(vs []float64, format string) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf(format, v)
	}
	return strings.Join(parts, ", ")
}
