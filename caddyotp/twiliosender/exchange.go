package twiliosender

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/caddyotp/caddyotp/caddyotp"
	"github.com/caddyotp/caddyotp/caddyotp/internal/httpsend"
)

// exchange is one attempt's HTTP exchange with Twilio, as the transport of twilio-go's
// client for that attempt. It does what the library cannot be told:
//
//   - it sends to the endpoint setting, when set, keeping each request's path and query;
//   - it ends the request when the caller's context ends (the library makes its requests
//     with context.Background());
//   - it notes the answer's status (the library drops it from an error answer whose body
//     is not Twilio's JSON, such as a proxy's 502 page);
//   - it closes the answer's body at the end (the library leaves an error answer's open).
//
// An exchange serves one call of the library, in the caller's goroutine.
type exchange struct {
	ctx      context.Context // the caller's
	base     http.RoundTripper
	endpoint *url.URL // nil: where the library sends

	status int         // the last answer's status; 0 before one came
	done   []io.Closer // the answers' bodies
	stops  []func()    // undo what ties the requests to ctx
}

// newExchange is an exchange for one attempt of s, made for ctx.
func (s *TwilioSender) newExchange(ctx context.Context) *exchange {
	return &exchange{ctx: ctx, base: s.client.Transport, endpoint: s.endpoint}
}

// api is twilio-go's Messages API, sending with s's credentials through e. Its request
// handler is made here, without the library's constructor, so that TWILIO_EDGE and
// TWILIO_REGION in the environment do not move the requests elsewhere.
func (s *TwilioSender) api(e *exchange) *openapi.ApiService {
	user, pass := s.AccountSID, s.AuthToken
	if s.APIKey != "" {
		user, pass = s.APIKey, s.APISecret
	}
	c := &client.Client{
		Credentials: client.NewCredentials(user, pass),
		HTTPClient:  &http.Client{Transport: e, Timeout: s.client.Timeout, CheckRedirect: s.client.CheckRedirect},
	}
	c.SetAccountSid(s.AccountSID)
	return openapi.NewApiService(&client.RequestHandler{Client: c})
}

// RoundTrip sends req through the provider's transport, to the endpoint when set, ending
// it when either the http.Client's deadline or the caller's context ends.
func (e *exchange) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	stop := context.AfterFunc(e.ctx, cancel)
	e.stops = append(e.stops, func() { stop(); cancel() })
	out := req.Clone(ctx)
	if e.endpoint != nil {
		out.URL.Scheme, out.URL.Host, out.Host = e.endpoint.Scheme, e.endpoint.Host, ""
	}
	resp, err := e.base.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	e.status = resp.StatusCode
	e.done = append(e.done, resp.Body)
	return resp, nil
}

// finish closes what the exchange left open.
func (e *exchange) finish() {
	for _, body := range e.done {
		body.Close()
	}
	for _, stop := range e.stops {
		stop()
	}
}

// sendError is the SendError of the library's err for this exchange:
//
//   - Twilio's error answer (a *client.TwilioRestError) is a status error with Twilio's
//     code: 429 and 5xx retryable, the rest definite;
//   - another answer that is not 2xx (an error page that is not Twilio's JSON, a 3xx) is
//     a status error without a code;
//   - a 2xx whose body could not be read created the message: maybe delivered, and not
//     to be tried again;
//   - no answer at all is a transport error: maybe delivered, unless the connection was
//     never made.
func (e *exchange) sendError(err error) *caddyotp.SendError {
	var rest *client.TwilioRestError
	if errors.As(err, &rest) {
		status := e.status // what came over the wire, else what the body says
		if status == 0 {
			status = rest.Status
		}
		code := ""
		if rest.Code != 0 {
			code = strconv.Itoa(rest.Code)
		}
		return httpsend.StatusError(status, code, err)
	}
	switch {
	case e.status == 0:
		return httpsend.TransportError(e.ctx, err)
	case e.status >= 200 && e.status <= 299:
		return &caddyotp.SendError{Code: "UnreadableAnswer", MaybeDelivered: true, Err: err}
	}
	return httpsend.StatusError(e.status, "", err)
}
