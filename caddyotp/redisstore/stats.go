// What the operator's view reads: the daily counts and the budget's spend.

package redisstore

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// CountVerified implements Store: one transaction on the day's hash.
func (s *RedisStore) CountVerified(ctx context.Context, template, country string, at time.Time) error {
	if err := caddyotp.CheckCountry(country); err != nil {
		return err
	}
	key := s.keys.statsDay(template, caddyotp.StatsDate(at))
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HIncrBy(ctx, key, countField(country, counterVerified), 1)
		p.PExpire(ctx, key, caddyotp.StatsTTL)
		return nil
	})
	if err != nil {
		return unavailable("counting a verified code", err)
	}
	return nil
}

// DailyCounts implements Store: the hashes of the days of the range, read in one pipeline.
// They share the ledger's tag, so on Cluster the pipeline goes to one node.
func (s *RedisStore) DailyCounts(ctx context.Context, template string, from, to time.Time) ([]caddyotp.DailyCount, error) {
	if err := caddyotp.CheckStatsRange(from, to); err != nil {
		return nil, err
	}
	dates := caddyotp.StatsDates(from, to)
	reads := make([]*redis.MapStringStringCmd, len(dates))
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, date := range dates {
			reads[i] = p.HGetAll(ctx, s.keys.statsDay(template, date))
		}
		return nil
	})
	if err != nil {
		return nil, unavailable("reading daily counts", err)
	}
	out := []caddyotp.DailyCount{}
	for i, date := range dates {
		day, err := dayCounts(date, reads[i].Val())
		if err != nil {
			return nil, err
		}
		out = append(out, day...)
	}
	return out, nil
}

// dayCounts reads one day's hash: one DailyCount per country that has a field.
func dayCounts(date string, fields map[string]string) ([]caddyotp.DailyCount, error) {
	byCountry := map[string]*caddyotp.DailyCount{}
	var out []caddyotp.DailyCount
	for field, value := range fields {
		i := strings.LastIndexByte(field, ':')
		n, err := strconv.ParseInt(value, 10, 64)
		if i < 1 || err != nil {
			return nil, badReply("reading daily counts")
		}
		country := field[:i]
		c := byCountry[country]
		if c == nil {
			c = &caddyotp.DailyCount{Date: date, Country: country}
			byCountry[country] = c
		}
		switch field[i+1:] {
		case counterSent:
			c.Sent = n
		case counterVerified:
			c.Verified = n
		case counterDelivered:
			c.Delivered = n
		case counterFailed:
			c.Failed = n
		case counterEstimated:
			c.EstimatedMicroUSD = n
		case counterBilled:
			c.BilledMicroUSD = n
		default:
			return nil, badReply("reading daily counts")
		}
	}
	for _, c := range byCountry {
		out = append(out, *c)
	}
	return out, nil
}

// BudgetSpent implements Store: both periods in one MGET (they share the {budget} tag); a
// period no longer kept has spent nothing.
func (s *RedisStore) BudgetSpent(ctx context.Context, at time.Time) (day, month int64, err error) {
	v, err := s.client.MGet(ctx, s.keys.budgetDay(at), s.keys.budgetMonth(at)).Result()
	if err != nil {
		return 0, 0, unavailable("reading budget spend", err)
	}
	if len(v) != 2 {
		return 0, 0, badReply("reading budget spend")
	}
	var spent [2]int64
	for i, x := range v {
		if x == nil {
			continue
		}
		str, ok := x.(string)
		n, err := strconv.ParseInt(str, 10, 64)
		if !ok || err != nil {
			return 0, 0, badReply("reading budget spend")
		}
		spent[i] = n
	}
	return spent[0], spent[1], nil
}
