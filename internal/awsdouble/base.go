package awsdouble

// Base is what each double embeds (F is its own Fault type): its server and its plan of
// faults, and the methods every double has. A double makes it as Base[Fault]{Server: s}
// and then calls s.Serve; its ServeHTTP takes each request's fault from Faults.
type Base[F any] struct {
	Server *Server
	Faults Faults[F]
}

// URL is the double's base URL, for the SDK client's BaseEndpoint.
func (b *Base[F]) URL() string { return b.Server.URL() }

// Close stops the double, releasing any request it holds open (a hang, a long poll). It is
// safe to call twice.
func (b *Base[F]) Close() { b.Server.Close() }

// FailNext makes the next n requests that f applies to meet f, before any fault set by
// SetFault. The zero fault lets its request through: FailNext(1, Fault{}) and then
// FailNext(1, f) fault the second request only.
func (b *Base[F]) FailNext(n int, f F) { b.Faults.FailNext(n, f) }

// SetFault makes every request that f applies to meet f, until changed; the zero fault
// (Fault{}) turns it off.
func (b *Base[F]) SetFault(f F) { b.Faults.Set(f) }

// Attempts is how many requests for the service's operations arrived, faulted or not.
func (b *Base[F]) Attempts() int { return b.Faults.Attempts() }
