package redistest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TLSServerName is the only name in a TLSServer's certificate: clients dialling
// 127.0.0.1 must ask for it.
const TLSServerName = "redis.test"

// TLSServer is a Server that also speaks TLS, requiring a client certificate, on its
// TLSAddr. Its plain port, Addr, serves Client for inspection.
type TLSServer struct {
	*Server
	tlsPort int

	// CAFile is the PEM certificate of a fresh CA that signed the server's certificate
	// (for TLSServerName only) and the client certificate.
	CAFile string
	// ClientCertFile and ClientKeyFile are a client certificate and its key, in PEM.
	ClientCertFile, ClientKeyFile string
}

// StartTLS starts a redis-server with a plain port and a TLS port, both on 127.0.0.1.
func StartTLS(t testing.TB) *TLSServer {
	t.Helper()
	dir := t.TempDir()
	s := &TLSServer{
		CAFile:         filepath.Join(dir, "ca.pem"),
		ClientCertFile: filepath.Join(dir, "client.pem"),
		ClientKeyFile:  filepath.Join(dir, "client.key"),
	}
	serverCert, serverKey := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	writeCerts(t, s.CAFile, serverCert, serverKey, s.ClientCertFile, s.ClientKeyFile)
	tlsPort := sidePort(t)
	s.Server = startServer(t, dir, func(port int) (first, last []string) {
		s.tlsPort = tlsPort(port)
		return nil, []string{
			"--tls-port", strconv.Itoa(s.tlsPort),
			"--tls-cert-file", serverCert,
			"--tls-key-file", serverKey,
			"--tls-ca-cert-file", s.CAFile,
			"--tls-auth-clients", "yes",
		}
	})
	return s
}

// TLSAddr is the host:port of the TLS listener.
func (s *TLSServer) TLSAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.tlsPort))
}

// writeCerts makes a CA, a server certificate for TLSServerName and a client
// certificate, and writes them as PEM.
func writeCerts(t testing.TB, caFile, serverCert, serverKey, clientCert, clientKey string) {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatalf("generating a key: %v", err)
		}
		return k
	}
	write := func(file, kind string, der []byte) {
		if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
			t.Fatalf("writing %s: %v", file, err)
		}
	}
	now := time.Now()
	caKey := newKey()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "redistest CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("creating the CA: %v", err)
	}
	write(caFile, "CERTIFICATE", caDER)

	issue := func(serial int64, name string, usage x509.ExtKeyUsage, certFile, keyFile string) {
		key := newKey()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			DNSNames:     []string{name},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatalf("creating a certificate: %v", err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatalf("encoding a key: %v", err)
		}
		write(certFile, "CERTIFICATE", der)
		write(keyFile, "PRIVATE KEY", keyDER)
	}
	issue(2, TLSServerName, x509.ExtKeyUsageServerAuth, serverCert, serverKey)
	issue(3, "caddyotp-test-client", x509.ExtKeyUsageClientAuth, clientCert, clientKey)
}
