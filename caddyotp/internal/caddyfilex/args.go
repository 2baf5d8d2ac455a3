// Package caddyfilex reads the Caddyfile arguments the host and the handlers share: one
// value, a whole number, a decimal, a duration, each with an error that names the word.
package caddyfilex

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// OneArg reads the one value of the current word into dst.
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

// IntArg reads the one whole-number value of the current word into dst.
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

// FloatArg reads the one decimal value of the current word.
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

// DurationArg reads the one duration value of the current word (Caddy's syntax: 90s, 1d).
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
