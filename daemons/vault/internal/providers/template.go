package providers

import (
	"crypto/rand"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Character classes a key template draws from.
var classes = map[string]string{
	"alnum":     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
	"base64url": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
	"hex":       "0123456789abcdef",
}

// MinPhantomBits is the least randomness a phantom template must hold.
const MinPhantomBits = 128

// maxPhantomLen bounds a phantom's length.
const maxPhantomLen = 512

// Template is the shape of a provider's keys: literal text and runs of
// random characters, written like sk-ant-api03-{base64url:93}AA.
type Template struct {
	text  string
	parts []part
}

type part struct {
	lit   string
	chars string
	n     int
}

// ParseTemplate reads a key template. Runs are {CLASS:N} with CLASS one of
// alnum, base64url, hex; literal text may hold printable ASCII but
// spaces and braces. The runs must hold at least MinPhantomBits of
// randomness.
func ParseTemplate(s string) (Template, error) {
	t := Template{text: s}
	rest := s
	bits, length := 0.0, 0
	for rest != "" {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			i = len(rest)
		}
		if lit := rest[:i]; lit != "" {
			for _, c := range lit {
				if c <= ' ' || c > '~' || c == '}' {
					return Template{}, fmt.Errorf("literal %q may only hold printable ASCII without spaces or braces", lit)
				}
			}
			t.parts = append(t.parts, part{lit: lit})
			length += len(lit)
		}
		rest = rest[i:]
		if rest == "" {
			break
		}
		j := strings.IndexByte(rest, '}')
		if j < 0 {
			return Template{}, fmt.Errorf("%q has no closing '}'", rest)
		}
		class, count, ok := strings.Cut(rest[1:j], ":")
		chars, known := classes[class]
		n, err := strconv.Atoi(count)
		if !ok || !known || err != nil || n < 1 || n > maxPhantomLen {
			return Template{}, fmt.Errorf("run %q: write {CLASS:N} with CLASS alnum, base64url or hex and N from 1 to %d", rest[:j+1], maxPhantomLen)
		}
		t.parts = append(t.parts, part{chars: chars, n: n})
		bits += float64(n) * math.Log2(float64(len(chars)))
		length += n
		rest = rest[j+1:]
	}
	if bits < MinPhantomBits {
		return Template{}, fmt.Errorf("%q holds %.0f bits of randomness, fewer than %d; make its runs longer (e.g. {base64url:32})", s, bits, MinPhantomBits)
	}
	if length > maxPhantomLen {
		return Template{}, fmt.Errorf("%q makes keys of %d characters, more than %d", s, length, maxPhantomLen)
	}
	return t, nil
}

// String returns the template as written.
func (t Template) String() string { return t.text }

// Mint returns a new random key of this shape.
func (t Template) Mint() (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.lit != "" {
			b.WriteString(p.lit)
			continue
		}
		max := big.NewInt(int64(len(p.chars)))
		for range p.n {
			v, err := rand.Int(rand.Reader, max)
			if err != nil {
				return "", fmt.Errorf("random phantom: %w", err)
			}
			b.WriteByte(p.chars[v.Int64()])
		}
	}
	return b.String(), nil
}

// Matches reports whether key has this template's shape.
func (t Template) Matches(key string) bool {
	for _, p := range t.parts {
		if p.lit != "" {
			if !strings.HasPrefix(key, p.lit) {
				return false
			}
			key = key[len(p.lit):]
			continue
		}
		if len(key) < p.n {
			return false
		}
		for i := range p.n {
			if strings.IndexByte(p.chars, key[i]) < 0 {
				return false
			}
		}
		key = key[p.n:]
	}
	return key == ""
}
