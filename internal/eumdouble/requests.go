package eumdouble

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// The members' rules, as the End User Messaging SMS API reference gives them for
// SendTextMessage and PutMessageFeedback (length bounds in characters).
var (
	phoneNumberPattern = regexp.MustCompile(`^\+?[1-9][0-9]{1,18}$`)
	identityPattern    = regexp.MustCompile(`^[A-Za-z0-9_:/+-]+$`) // OriginationIdentity
	nameOrArnPattern   = regexp.MustCompile(`^[A-Za-z0-9_:/-]+$`)  // ConfigurationSetName, ProtectConfigurationId, MessageId
	maxPricePattern    = regexp.MustCompile(`^[0-9]{0,2}\.[0-9]{1,5}$`)
	contextKeyPattern  = regexp.MustCompile(`^\S+$`)
)

const (
	minTimeToLive   = 5
	maxTimeToLive   = 259200 // 72 hours
	maxContextPairs = 5
)

// parseSendTextMessage reads a SendTextMessage request; a request AWS would refuse gives the
// error to answer with.
func parseSendTextMessage(body map[string]json.RawMessage) (Message, *apiError) {
	var m Message
	for name := range body {
		m.Members = append(m.Members, name)
	}
	sort.Strings(m.Members)

	var ttl *int
	var feedback *bool
	for _, f := range []struct {
		name string
		into any
	}{
		{"DestinationPhoneNumber", &m.DestinationPhoneNumber},
		{"MessageBody", &m.MessageBody},
		{"MessageType", &m.MessageType},
		{"OriginationIdentity", &m.OriginationIdentity},
		{"MaxPrice", &m.MaxPrice},
		{"TimeToLive", &ttl},
		{"ConfigurationSetName", &m.ConfigurationSetName},
		{"ProtectConfigurationId", &m.ProtectConfigurationID},
		{"MessageFeedbackEnabled", &feedback},
		{"Context", &m.Context},
		{"DryRun", &m.DryRun},
	} {
		if bad := decodeMember(body, f.name, f.into); bad != nil {
			return m, bad
		}
	}
	if ttl != nil {
		m.TimeToLive = *ttl
	}
	if feedback != nil {
		m.MessageFeedbackEnabled = *feedback
	}

	_, hasPhone := body["DestinationPhoneNumber"]
	_, hasBody := body["MessageBody"]
	_, hasTTL := body["TimeToLive"]
	checks := []struct {
		name, value string
		fail        string // the broken constraint, "" when the member is good
	}{
		{"destinationPhoneNumber", m.DestinationPhoneNumber, stringRule(m.DestinationPhoneNumber, hasPhone, 1, 20, phoneNumberPattern)},
		{"messageBody", m.MessageBody, stringRule(m.MessageBody, hasBody, 1, 1600, nil)},
		{"originationIdentity", m.OriginationIdentity, optionalRule(body, "OriginationIdentity", m.OriginationIdentity, 1, 256, identityPattern)},
		{"configurationSetName", m.ConfigurationSetName, optionalRule(body, "ConfigurationSetName", m.ConfigurationSetName, 1, 256, nameOrArnPattern)},
		{"protectConfigurationId", m.ProtectConfigurationID, optionalRule(body, "ProtectConfigurationId", m.ProtectConfigurationID, 1, 256, nameOrArnPattern)},
		{"maxPrice", m.MaxPrice, optionalRule(body, "MaxPrice", m.MaxPrice, 2, 8, maxPricePattern)},
		{"messageType", m.MessageType, enumRule(body, "MessageType", m.MessageType, "TRANSACTIONAL", "PROMOTIONAL")},
		{"timeToLive", fmt.Sprint(m.TimeToLive), rangeRule(hasTTL, m.TimeToLive, minTimeToLive, maxTimeToLive)},
	}
	for _, c := range checks {
		if c.fail != "" {
			return m, fieldInvalid(c.name, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: %s", c.value, c.name, c.fail))
		}
	}
	if len(m.Context) > maxContextPairs {
		return m, fieldInvalid("context", fmt.Sprintf("Value at 'context' failed to satisfy constraint: Member must have length less than or equal to %d", maxContextPairs))
	}
	for k, v := range m.Context {
		if n := utf8.RuneCountInString(k); n < 1 || n > 100 || !contextKeyPattern.MatchString(k) {
			return m, fieldInvalid("context", fmt.Sprintf("Value '%s' at 'context' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length between 1 and 100, Member must satisfy regular expression pattern: \\S+]", k))
		}
		if n := utf8.RuneCountInString(v); n < 1 || n > 800 || strings.TrimSpace(v) == "" {
			return m, fieldInvalid("context", fmt.Sprintf("Value '%s' at 'context' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length between 1 and 800]", v))
		}
	}
	return m, nil
}

// parsePutMessageFeedback reads a PutMessageFeedback request.
func parsePutMessageFeedback(body map[string]json.RawMessage) (Feedback, *apiError) {
	var f Feedback
	if bad := decodeMember(body, "MessageId", &f.MessageID); bad != nil {
		return f, bad
	}
	if bad := decodeMember(body, "MessageFeedbackStatus", &f.Status); bad != nil {
		return f, bad
	}
	_, hasID := body["MessageId"]
	if fail := stringRule(f.MessageID, hasID, 1, 64, nameOrArnPattern); fail != "" {
		return f, fieldInvalid("messageId", fmt.Sprintf("Value '%s' at 'messageId' failed to satisfy constraint: %s", f.MessageID, fail))
	}
	if f.Status != "RECEIVED" && f.Status != "FAILED" {
		return f, fieldInvalid("messageFeedbackStatus", fmt.Sprintf("Value '%s' at 'messageFeedbackStatus' failed to satisfy constraint: Member must satisfy enum value set: [RECEIVED, FAILED]", f.Status))
	}
	return f, nil
}

// decodeMember decodes body[name] into into when present; a member of the wrong JSON type
// is the SerializationException AWS answers.
func decodeMember(body map[string]json.RawMessage, name string, into any) *apiError {
	raw, ok := body[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return &apiError{Type: coralServiceNamespace + "SerializationException", Status: http.StatusBadRequest,
			Message: fmt.Sprintf("%s: %v", name, err)}
	}
	return nil
}

// stringRule is the constraint that v breaks, or "": required (when present is false, the
// member is missing), length between lo and hi characters, and pattern.
func stringRule(v string, present bool, lo, hi int, pattern *regexp.Regexp) string {
	if !present {
		return "Member must not be null"
	}
	if n := utf8.RuneCountInString(v); n < lo || n > hi {
		return fmt.Sprintf("Member must have length between %d and %d", lo, hi)
	}
	if pattern != nil && !pattern.MatchString(v) {
		return "Member must satisfy regular expression pattern: " + strings.Trim(pattern.String(), "^$")
	}
	return ""
}

// optionalRule is stringRule for a member that may be left out.
func optionalRule(body map[string]json.RawMessage, member, v string, lo, hi int, pattern *regexp.Regexp) string {
	if _, ok := body[member]; !ok {
		return ""
	}
	return stringRule(v, true, lo, hi, pattern)
}

// enumRule is the constraint that an enum member breaks, or "".
func enumRule(body map[string]json.RawMessage, member, v string, values ...string) string {
	if _, ok := body[member]; !ok {
		return ""
	}
	for _, ok := range values {
		if v == ok {
			return ""
		}
	}
	return "Member must satisfy enum value set: [" + strings.Join(values, ", ") + "]"
}

// rangeRule is the constraint that an integer member breaks, or "".
func rangeRule(present bool, v, lo, hi int) string {
	switch {
	case !present:
		return ""
	case v < lo:
		return fmt.Sprintf("Member must have value greater than or equal to %d", lo)
	case v > hi:
		return fmt.Sprintf("Member must have value less than or equal to %d", hi)
	}
	return ""
}
