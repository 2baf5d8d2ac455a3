package redisstore

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// RedisTLS configures TLS to Redis. The files are read at Provision, so a config reload
// picks up renewed ones.
type RedisTLS struct {
	// CAFile is a PEM file of the certificate authorities that sign the servers'
	// certificates, used instead of the system's roots (for a private CA).
	// Default: none (the system's roots)
	CAFile string `json:"ca_file,omitempty"`

	// ServerName is the name the servers' certificates must be valid for, when it is
	// not the host of the address dialled (an IP address, or Cluster nodes and replicas
	// that announce IPs).
	// Default: the host of each address
	ServerName string `json:"server_name,omitempty"`

	// CertFile and KeyFile are a PEM client certificate and its key, for servers that
	// require one (tls-auth-clients); both or neither.
	// Default: none
	CertFile string `json:"cert_file,omitempty"`

	// KeyFile is the key of CertFile (PEM).
	// Default: none
	KeyFile string `json:"key_file,omitempty"`
}

// config reads the files and builds the client's TLS configuration; id is a digest of
// the files' contents.
func (t *RedisTLS) config() (c *tls.Config, id string, err error) {
	c = &tls.Config{ServerName: t.ServerName, MinVersion: tls.VersionTLS12}
	digest := sha256.New()
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, "", fmt.Errorf("ca_file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, "", fmt.Errorf("ca_file %s: no PEM certificate", t.CAFile)
		}
		digest.Write(pem)
	}
	if t.CertFile != "" {
		certPEM, err := os.ReadFile(t.CertFile)
		if err != nil {
			return nil, "", fmt.Errorf("cert_file: %w", err)
		}
		keyPEM, err := os.ReadFile(t.KeyFile)
		if err != nil {
			return nil, "", fmt.Errorf("key_file: %w", err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, "", fmt.Errorf("cert_file and key_file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
		digest.Write(certPEM)
		digest.Write(keyPEM)
	}
	return c, hex.EncodeToString(digest.Sum(nil)), nil
}

// unmarshalCaddyfile reads the optional block after tls.
func (t *RedisTLS) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	seen := make(map[string]bool)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		word := d.Val()
		if seen[word] {
			return d.Errf("tls %s specified more than once", word)
		}
		seen[word] = true
		field, ok := map[string]*string{
			"ca_file":     &t.CAFile,
			"server_name": &t.ServerName,
			"cert_file":   &t.CertFile,
			"key_file":    &t.KeyFile,
		}[word]
		if !ok {
			return d.Errf("unrecognized tls subdirective '%s'", word)
		}
		if !d.AllArgs(field) {
			return d.ArgErr()
		}
	}
	return nil
}
