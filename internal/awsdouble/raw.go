package awsdouble

import (
	"io"
	"net/http"
	"strings"
)

// Raw is a request to a double as a test writes one by hand, to see what the double
// refuses or how it answers: the SDK's headers, each left out when empty.
type Raw struct {
	Method        string // default: POST
	Path          string // default: /
	Target        string // X-Amz-Target, such as "AmazonSQS.ReceiveMessage"
	ContentType   string
	Authorization string
	Body          string
}

// Do sends r to the double at baseURL with client and returns the answer's status and
// body; err is the client's, such as a timeout or a dropped connection.
func (r Raw) Do(client *http.Client, baseURL string) (status int, body string, err error) {
	resp, err := r.Send(client, baseURL)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// Send sends r to the double at baseURL with client and returns the answer, whose body the
// caller closes.
func (r Raw) Send(client *http.Client, baseURL string) (*http.Response, error) {
	method, path := r.Method, r.Path
	if method == "" {
		method = http.MethodPost
	}
	if path == "" {
		path = "/"
	}
	req, err := http.NewRequest(method, baseURL+path, strings.NewReader(r.Body))
	if err != nil {
		return nil, err
	}
	for k, v := range map[string]string{"X-Amz-Target": r.Target, "Content-Type": r.ContentType, "Authorization": r.Authorization} {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	return client.Do(req)
}
