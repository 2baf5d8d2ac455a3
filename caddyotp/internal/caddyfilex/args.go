package caddyfilex

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func OneArg(d *caddyfile.Dispenser, dst *string) error {
	word := d.Val()
	if !d.NextArg() {
		return d.Errf("'%s' needs a value", word)
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.Errf("'%s' takes one value, got another: '%s'", word, d.Val())
	}
	return nil
}

func IntArg(d *caddyfile.Dispenser, dst *int) error {
	word := d.Val()
	var s string
	if err := OneArg(d, &s); err != nil {
		return err
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return d.Errf("'%s': '%s' is not a whole number", word, s)
	}
	*dst = n
	return nil
}

func FloatArg(d *caddyfile.Dispenser) (float64, error) {
	word := d.Val()
	var s string
	if err := OneArg(d, &s); err != nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, d.Errf("'%s': '%s' is not a number", word, s)
	}
	return v, nil
}

func DurationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	word := d.Val()
	var s string
	if err := OneArg(d, &s); err != nil {
		return 0, err
	}
	v, err := caddy.ParseDuration(s)
	if err != nil {
		return 0, d.Errf("'%s': '%s' is not a duration: %v", word, s, err)
	}
	return caddy.Duration(v), nil
}
