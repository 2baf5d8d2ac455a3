// Package smsparts counts the parts an SMS is billed as, the way carriers count them.
package smsparts

// Encoding names how a message is sent.
type Encoding string

const (
	GSM7 Encoding = "GSM-7"
	UCS2 Encoding = "UCS-2"
)

// gsmBasic is the GSM 03.38 default alphabet; each costs one septet.
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsmExtension holds the characters reached through the escape code; each costs two septets.
const gsmExtension = "\f^{}\\[~]|€"

var septets = func() map[rune]int {
	m := make(map[rune]int, 160)
	for _, r := range gsmBasic {
		m[r] = 1
	}
	for _, r := range gsmExtension {
		m[r] = 2
	}
	return m
}()

// Count returns how many parts text is billed as and the encoding it goes out in.
// GSM-7: 160 septets in one part, 153 per part when split (the escape of an extension
// character never straddles two parts). UCS-2: 70 UTF-16 units in one part, 67 per part when
// split; a character outside the BMP (most emoji) takes two units.
func Count(text string) (int, Encoding) {
	if text == "" {
		return 1, GSM7
	}
	gsm := true
	for _, r := range text {
		if septets[r] == 0 {
			gsm = false
			break
		}
	}
	if gsm {
		total := 0
		for _, r := range text {
			total += septets[r]
		}
		if total <= 160 {
			return 1, GSM7
		}
		parts, used := 1, 0
		for _, r := range text {
			w := septets[r]
			if used+w > 153 {
				parts++
				used = 0
			}
			used += w
		}
		return parts, GSM7
	}
	units := 0
	for _, r := range text {
		if r > 0xFFFF {
			units += 2
		} else {
			units++
		}
	}
	if units <= 70 {
		return 1, UCS2
	}
	// Surrogate pairs are not split across parts either.
	parts, used := 1, 0
	for _, r := range text {
		w := 1
		if r > 0xFFFF {
			w = 2
		}
		if used+w > 67 {
			parts++
			used = 0
		}
		used += w
	}
	return parts, UCS2
}
