package caddyotp

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/nyaruka/phonenumbers"
	"go.uber.org/zap"
	"golang.org/x/text/language"

	"github.com/caddyotp/caddyotp/caddyotp/internal/otpcode"
	"github.com/caddyotp/caddyotp/caddyotp/internal/phone"
)

// DefaultTemplate is the template used where none is named. It always exists.
const DefaultTemplate = "default"

// Defaults and bounds of a template.
const (
	defaultMessage  = "Your verification code is {code}. It expires in {minutes} minutes."
	defaultLength   = 6
	defaultTTL      = 5 * time.Minute
	maxTTL          = 10 * time.Minute
	minTTL          = 1 * time.Second
	defaultAttempts = 5
	maxAttempts     = 10
	defaultResend   = 60 * time.Second
	maxResend       = time.Hour
	maxMessageLen   = 480
)

// Template is one kind of OTP message with its rules: what the SMS says, how long the code
// lives, how many tries it has and how often it may be sent.
type Template struct {
	// The API key that selects this template (the `template-key` header), compared in
	// constant time. At least 16 characters. A template without a key is for the gate only.
	// Takes {env.*} placeholders, resolved at start and never logged. Default: none.
	Key string `json:"key,omitempty"`

	// The SMS text. {code} is replaced by the code and {minutes} by the code's lifetime in
	// whole minutes (at least 1). It must contain {code}. At most 480 characters.
	// Default: `Your verification code is {code}. It expires in {minutes} minutes.`
	Message string `json:"message,omitempty"`

	// The SMS text per language, keyed by a BCP 47 tag ("fr", "pt-BR"; at most 35 bytes,
	// naming a language), with the same rules as Message. The gate picks the one that best
	// matches its page's language, the API the one that best matches the request's `locale`
	// ("pt-BR" takes "pt", "fr-CA" takes "fr"); a locale that matches none, or none given,
	// gets Message. Two keys of the same language ("pt-br", "pt-BR") are an error.
	// Default: none
	Messages map[string]string `json:"messages,omitempty"`

	// Test numbers: mobile (E.164, a number that can receive SMS) → the code it always
	// accepts, exactly `length` digits ({env.*} placeholders resolved at start). A send to a
	// test number sends no SMS and costs nothing, but goes through the country list, the
	// guard, the lock, the resend interval and the limits like any other, and is ledgered
	// with status `test`, provider `test` and 0 USD; it is not counted in the daily counts
	// or the guard. Anyone who knows the code can verify the number, so the gate's `allow`
	// should not let a test number in where it matters. Each is logged as a warning at
	// start. Default: none
	TestNumbers map[string]string `json:"test_numbers,omitempty"`

	// How many digits a code has, 6 to 10. Default: 6
	Length int `json:"length,omitempty"`

	// How long a code is valid, 1s to 10m. Default: 5m
	TTL caddy.Duration `json:"ttl,omitempty"`

	// How many wrong codes are accepted before the code is burned, 1 to 10. Default: 5
	Attempts int `json:"attempts,omitempty"`

	// The shortest time between two sends to the same mobile for this template: 0, or 1s to
	// 1h. Zero turns the interval off (the limits still apply). Default: 60s
	Resend *caddy.Duration `json:"resend,omitempty"`

	// The alphanumeric sender ID shown on the phone where the country supports it: 1 to 11
	// letters and digits with at least one letter. Default: none (the provider's)
	SenderID string `json:"sender_id,omitempty"`

	// The number the SMS is sent from, in E.164. Default: none (the provider's)
	OriginationNumber string `json:"origination_number,omitempty"`

	// The most, in USD, that the provider may charge for one SMS part; sent to SNS as
	// AWS.SNS.SMS.MaxPrice and to End User Messaging as MaxPrice (which keeps 5 decimals).
	// Default: 0 (no cap)
	MaxPrice float64 `json:"max_price,omitempty"`

	// The destination countries allowed, as ISO 3166-1 alpha-2 codes ("GB", "US"), decided
	// from the parsed number. Default: none, meaning every country.
	Countries []string `json:"countries,omitempty"`

	// Send limits by kind: `mobile` (per number), `ip` (per client IP, as Caddy's
	// {client_ip} gives it, so trusted_proxies applies; an IPv6 client counts by its /64,
	// an IPv4-mapped one as IPv4), `prefix` (per number without its last four digits) and
	// `template` (all sends of this template). A send takes from every limit at once or
	// from none: one that a limit refuses spends none of the others. A count of 0 turns the
	// kind off. Default: mobile 5/1h, ip 20/1h, prefix 50/1h, template 1000/24h
	Limits map[string]LimitConfig `json:"limits,omitempty"`

	// The lock group: templates with the same lock group share failure runs and locks, so
	// wrong codes at one lock the mobile at all of them. Wrong codes at a template of
	// another group lock nothing here. Letters, digits, '-' and '_', at most 64; a group may
	// carry another template's name, and then shares that template's locks.
	// Default: the template's own name (locks per template)
	LockGroup string `json:"lock_group,omitempty"`

	// The pumping guard: refuse destinations whose codes are seldom used (see Guard).
	// Default: off
	Guard *Guard `json:"guard,omitempty"`

	// A domain for the WebOTP / iOS one-time-code line "@example.com #123456" appended to
	// the message, so browsers can fill the code in. Default: none
	WebOTP string `json:"web_otp,omitempty"`

	name         string
	lockGroup    string
	countries    map[string]bool
	limits       map[string]Limit
	messageTags  []language.Tag    // the languages of Messages, in key order
	messageTexts []string          // their texts, placeholders resolved
	matcher      language.Matcher  // over messageTags; nil without Messages
	testCodes    map[string]string // test number (E.164) → its code, placeholders resolved
}

// Name is the template's name in the app: the key of its entry in Templates.
func (t *Template) Name() string { return t.name }

// LimitConfig is one send limit: Count sends in any Window.
type LimitConfig struct {
	// How many sends. 0 turns the limit off.
	Count int `json:"count"`
	// The sliding window the count applies to, 1s to 31 days.
	Window caddy.Duration `json:"window"`
}

var senderIDPattern = regexp.MustCompile(`^[A-Za-z0-9]{1,11}$`)
var letterPattern = regexp.MustCompile(`[A-Za-z]`)
var webOTPPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)

// provision resolves placeholders and fills in defaults.
func (t *Template) provision(name string, repl *caddy.Replacer) {
	t.name = name
	t.lockGroup = t.LockGroup
	if t.lockGroup == "" {
		t.lockGroup = name
	}
	t.Key = repl.ReplaceKnown(t.Key, "")
	t.SenderID = repl.ReplaceKnown(t.SenderID, "")
	t.OriginationNumber = repl.ReplaceKnown(t.OriginationNumber, "")
	t.Message = repl.ReplaceKnown(t.Message, "")
	if t.Message == "" {
		t.Message = defaultMessage
	}
	t.provisionMessages(repl)
	t.testCodes = make(map[string]string, len(t.TestNumbers))
	for mobile, code := range t.TestNumbers {
		t.testCodes[mobile] = repl.ReplaceKnown(code, "")
	}
	if t.Length == 0 {
		t.Length = defaultLength
	}
	if t.TTL == 0 {
		t.TTL = caddy.Duration(defaultTTL)
	}
	if t.Attempts == 0 {
		t.Attempts = defaultAttempts
	}
	if t.Resend == nil {
		d := caddy.Duration(defaultResend)
		t.Resend = &d
	}
	t.countries = make(map[string]bool, len(t.Countries))
	for _, c := range t.Countries {
		t.countries[strings.ToUpper(c)] = true
	}
	if t.Guard != nil {
		t.Guard.provision()
	}
	t.limits = make(map[string]Limit, len(limitKinds))
	for _, k := range limitKinds {
		t.limits[k.Name] = k.Default
	}
	for kind, l := range t.Limits {
		if l.Count == 0 {
			delete(t.limits, kind)
			continue
		}
		t.limits[kind] = Limit{Count: l.Count, Window: time.Duration(l.Window)}
	}
}

// validate checks a provisioned template; every message names the setting.
func (t *Template) validate() error {
	if t.Guard != nil {
		if err := t.Guard.validate(); err != nil {
			return err
		}
	}
	if err := checkMessage(t.Message); err != nil {
		return fmt.Errorf("message %w", err)
	}
	if err := t.validateMessages(); err != nil {
		return err
	}
	if t.Length < otpcode.MinLength || t.Length > otpcode.MaxLength {
		return fmt.Errorf("length %d is outside %d..%d", t.Length, otpcode.MinLength, otpcode.MaxLength)
	}
	if ttl := time.Duration(t.TTL); ttl < minTTL || ttl > maxTTL {
		return fmt.Errorf("ttl %s is outside %s..%s", ttl, minTTL, maxTTL)
	}
	if t.Attempts < 1 || t.Attempts > maxAttempts {
		return fmt.Errorf("attempts %d is outside 1..%d", t.Attempts, maxAttempts)
	}
	if r := time.Duration(*t.Resend); r < 0 || r > maxResend {
		return fmt.Errorf("resend %s is outside 0s..%s", r, maxResend)
	} else if r > 0 && r < MinResend {
		return fmt.Errorf("resend %s is below %s; use 0s to turn the interval off", r, MinResend)
	}
	if t.Key != "" && len(t.Key) < 16 {
		return fmt.Errorf("key is too short: at least 16 characters")
	}
	if t.SenderID != "" {
		if err := checkSenderID(t.SenderID); err != nil {
			return fmt.Errorf("sender_id: %w", err)
		}
	}
	if t.OriginationNumber != "" {
		if err := checkOriginationNumber(t.OriginationNumber); err != nil {
			return fmt.Errorf("origination_number: %w", err)
		}
	}
	if t.MaxPrice < 0 || t.MaxPrice > 10 {
		return fmt.Errorf("max_price %v is outside 0..10 USD", t.MaxPrice)
	}
	for _, c := range t.Countries {
		if !knownRegion(strings.ToUpper(c)) {
			return fmt.Errorf("countries: %q is not an ISO 3166-1 alpha-2 code with a phone plan", c)
		}
	}
	kinds := make([]string, 0, len(t.Limits))
	for kind := range t.Limits {
		kinds = append(kinds, kind)
	}
	sort.Strings(kinds)
	for _, kind := range kinds {
		l := t.Limits[kind]
		if !isLimitKind(kind) {
			return fmt.Errorf("limit %q: the kind must be %s", kind, limitKindList())
		}
		if l.Count < 0 {
			return fmt.Errorf("limit %s: count %d is negative", kind, l.Count)
		}
		if w := time.Duration(l.Window); l.Count > 0 && (w < time.Second || w > 31*24*time.Hour) {
			return fmt.Errorf("limit %s: window %s is outside 1s..744h", kind, w)
		}
	}
	if t.LockGroup != "" && !templateNamePattern.MatchString(t.LockGroup) {
		return fmt.Errorf("lock_group %q: letters, digits, '-' and '_', at most 64", t.LockGroup)
	}
	if t.WebOTP != "" && !webOTPPattern.MatchString(t.WebOTP) {
		return fmt.Errorf("web_otp %q is not a lower-case domain name", t.WebOTP)
	}
	return t.validateTestNumbers()
}

// checkMessage checks one SMS text (Message, or one of Messages) after its placeholders
// are resolved; the error is worded to follow the setting's name.
func checkMessage(text string) error {
	if !strings.Contains(text, "{code}") {
		return fmt.Errorf("must contain {code}")
	}
	if n := len([]rune(text)); n > maxMessageLen {
		return fmt.Errorf("is %d characters; at most %d", n, maxMessageLen)
	}
	return nil
}

// MaxLocaleLen is the longest language tag taken, in bytes: RFC 5646 (section 4.4.1) asks
// every implementation to handle tags of up to 35 characters.
const MaxLocaleLen = 35

// CheckLocale checks a locale as the API takes it: a well-formed BCP 47 language tag of
// known subtags ("fr", "pt-BR"), at most MaxLocaleLen bytes. The error reads after the
// setting's name ("locale is empty").
func CheckLocale(s string) error {
	_, err := parseLocale(s)
	return err
}

func parseLocale(s string) (language.Tag, error) {
	if s == "" {
		return language.Und, errors.New("is empty")
	}
	if len(s) > MaxLocaleLen {
		return language.Und, fmt.Errorf("is %d bytes; at most %d", len(s), MaxLocaleLen)
	}
	tag, err := language.Parse(s)
	if err != nil {
		return language.Und, fmt.Errorf("is not a BCP 47 language tag (%v)", err)
	}
	return tag, nil
}

// messageLanguage parses a key of Messages: a locale that names a language (not "und",
// not a private-use tag such as "x-acme").
func messageLanguage(key string) (language.Tag, error) {
	tag, err := parseLocale(key)
	if err != nil {
		return tag, err
	}
	if _, conf := tag.Base(); tag == language.Und || conf == language.No {
		return tag, errors.New("names no language (it is und or private use)")
	}
	return tag, nil
}

// provisionMessages resolves the placeholders of Messages and builds the matcher over their
// languages. A key that does not parse is left out here; validate names it.
func (t *Template) provisionMessages(repl *caddy.Replacer) {
	t.messageTags, t.messageTexts, t.matcher = nil, nil, nil
	for _, key := range sortedKeys(t.Messages) {
		text := repl.ReplaceKnown(t.Messages[key], "")
		t.Messages[key] = text
		tag, err := messageLanguage(key)
		if err != nil {
			continue
		}
		t.messageTags = append(t.messageTags, tag)
		t.messageTexts = append(t.messageTexts, text)
	}
	if len(t.messageTags) > 0 {
		t.matcher = language.NewMatcher(t.messageTags)
	}
}

// validateMessages checks every entry of Messages: its key a language, named once, and its
// text as Message's.
func (t *Template) validateMessages() error {
	seen := make(map[string]string, len(t.Messages))
	for _, key := range sortedKeys(t.Messages) {
		tag, err := messageLanguage(key)
		if err != nil {
			return fmt.Errorf("message %q %w", key, err)
		}
		if other, dup := seen[tag.String()]; dup {
			return fmt.Errorf("message %s: the same language (%s) as message %s", key, tag, other)
		}
		seen[tag.String()] = key
		if err := checkMessage(t.Messages[key]); err != nil {
			return fmt.Errorf("message %s: the text %w", key, err)
		}
	}
	return nil
}

// messageFor is the SMS text for locale: the entry of Messages whose language best matches
// it, or Message when none is given, it does not parse or nothing matches.
func (t *Template) messageFor(locale string) string {
	if t.matcher == nil || locale == "" {
		return t.Message
	}
	tag, err := parseLocale(locale)
	if err != nil {
		return t.Message
	}
	_, i, conf := t.matcher.Match(tag)
	if conf == language.No {
		return t.Message
	}
	return t.messageTexts[i]
}

// validateTestNumbers checks every test number: a mobile in E.164 and a code of exactly
// `length` ASCII digits. The code is not echoed.
func (t *Template) validateTestNumbers() error {
	for _, mobile := range sortedKeys(t.testCodes) {
		if _, err := phone.Parse(mobile); err != nil {
			return fmt.Errorf("test_number %q: %w", mobile, err)
		}
		if code := t.testCodes[mobile]; len(code) != t.Length || !otpcode.Valid(code) {
			return fmt.Errorf("test_number %s: the code must be %d ASCII digits (the template's length)", mobile, t.Length)
		}
	}
	return nil
}

// warnTestNumbers logs each test number (masked) as a warning: it sends no SMS and accepts
// a code written in the config.
func (t *Template) warnTestNumbers(logger *zap.Logger) {
	for _, mobile := range sortedKeys(t.testCodes) {
		logger.Warn("test number: sends no SMS and always accepts its configured code",
			zap.String("template", t.name), zap.String("mobile", phone.MaskString(mobile)))
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// render returns the SMS text for code, from message (Message or one of Messages).
func (t *Template) render(message, code string) string {
	minutes := int(time.Duration(t.TTL) / time.Minute)
	if minutes < 1 {
		minutes = 1
	}
	text := strings.NewReplacer("{code}", code, "{minutes}", strconv.Itoa(minutes)).Replace(message)
	if t.WebOTP != "" {
		text += "\n\n@" + t.WebOTP + " #" + code
	}
	return text
}

// allowsCountry reports whether the template may send to region.
func (t *Template) allowsCountry(region string) bool {
	return len(t.countries) == 0 || t.countries[region]
}

func checkSenderID(s string) error {
	if !senderIDPattern.MatchString(s) || !letterPattern.MatchString(s) {
		return fmt.Errorf("%q must be 1 to 11 ASCII letters and digits with at least one letter", s)
	}
	return nil
}

func checkOriginationNumber(s string) error {
	if _, err := phone.ParseAny(s); err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	return nil
}

func knownRegion(region string) bool {
	return phonenumbers.GetCountryCodeForRegion(region) != 0
}

var templateNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
