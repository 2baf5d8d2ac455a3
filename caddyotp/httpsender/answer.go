package httpsender

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"

	"go.uber.org/zap"

	"github.com/caddyotp/caddyotp/caddyotp"
)

// maxAnswer is how much of an answer the sender reads: a provider's receipt is small, and
// a large answer is not worth the memory.
const maxAnswer = 64 << 10

// maxMessageID bounds the provider's message id the ledger keeps.
const maxMessageID = 256

// maxPriceUSD is the highest price taken from an answer: no SMS costs more, so a larger
// number is a misread field, not a bill.
const maxPriceUSD = 100

// jsonNumber is the JSON number syntax (RFC 8259), which a price given as a string must
// follow: no "NaN", "Inf", hex or spaces.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// receipt reads the 2xx answer raw (its first maxAnswer bytes; readErr is how reading it
// failed) to the attempt with reference ref. The provider took the message whatever the
// answer says, so a field it lacks costs only a warning: the reference stands for the
// message id, and the price stays unknown until a report tells it.
func (s *HTTPSender) receipt(raw []byte, readErr error, ref string) caddyotp.Receipt {
	r := caddyotp.Receipt{MessageID: ref}
	if s.MessageIDField == "" && s.PriceField == "" {
		return r
	}
	doc, err := decodeAnswer(raw)
	if readErr != nil {
		err = fmt.Errorf("reading the answer: %w", readErr)
	}
	if err != nil {
		s.logger.Warn("the answer is not JSON, so the reference is the message id and the price is unknown",
			zap.String("reference", ref), zap.Int("bytes", len(raw)), zap.Error(err))
		return r
	}
	if s.MessageIDField != "" {
		if id, ok := messageID(s.idPointer.resolve(doc)); ok {
			r.MessageID = id
		} else {
			s.logger.Warn("the answer has no message id at message_id_field, so the reference is the message id",
				zap.String("message_id_field", s.MessageIDField), zap.String("reference", ref))
		}
	}
	if s.PriceField != "" {
		v, found := s.pricePointer.resolve(doc)
		price, err := priceUSD(v, found)
		if err != nil {
			s.logger.Warn("no price from the answer",
				zap.String("price_field", s.PriceField), zap.String("reference", ref), zap.Error(err))
		} else {
			r.BilledUSD, r.HasPrice = price, true
		}
	}
	return r
}

// decodeAnswer decodes raw, which must be exactly one JSON value, keeping numbers as
// json.Number so that an id or a price is read as the provider wrote it.
func decodeAnswer(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return doc, nil
}

// messageID is the provider's id in v: a non-empty string, or a number as written.
func messageID(v any, found bool) (string, bool) {
	var id string
	switch v := v.(type) {
	case string:
		id = v
	case json.Number:
		id = v.String()
	}
	return id, found && id != "" && len(id) <= maxMessageID
}

// priceUSD is the price in v: a JSON number, or a string holding one, from 0 to 100 USD.
func priceUSD(v any, found bool) (float64, error) {
	if !found {
		return 0, errors.New("the answer has no such field")
	}
	var text string
	switch v := v.(type) {
	case json.Number:
		text = v.String()
	case string:
		if !jsonNumber.MatchString(v) {
			return 0, fmt.Errorf("%q is not a number", v)
		}
		text = v
	default:
		return 0, fmt.Errorf("a %s is not a price", jsonType(v))
	}
	p, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(p, 0) || p < 0 || p > maxPriceUSD {
		return 0, fmt.Errorf("%s is not a price from 0 to %d USD", text, maxPriceUSD)
	}
	return p, nil
}

// jsonType names the type of a decoded JSON value, for a warning.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return "value"
}
