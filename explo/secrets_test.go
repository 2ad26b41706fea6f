package explo

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestSecrets_Scrub(t *testing.T) {
	s := NewSecrets(
		"lettersonlyapitoken",
		"3f:9c:a1:07:be:ef:00:12",
		"c0ffee00c0ffee00c0ffee00c0ffee00",
		"dGhpcyBpcyBh_c2VjcmV0-dG9rZW4",
		"short",
	)
	tests := []struct {
		name, in, want string
	}{
		{"Plain", "token lettersonlyapitoken refused", "token [redacted] refused"},
		{"SplitBySpace", "token lettersonly apitoken refused", "token [redacted] refused"},
		{"SplitEverywhere", "l e t t e r s o n l y a p i t o k e n!", "[redacted]!"},
		{"SplitByNewlineAndTab", "x lettersonly\n\tapitoken y", "x [redacted] y"},
		{"SplitByUnicodeSpace", "x lettersonly\u00a0\u2003apitoken y", "x [redacted] y"},
		{"Recased", "LETTERSONLYAPITOKEN", "[redacted]"},
		{"ColonHexRecased", "echo 3F:9C:A1:07:BE:EF:00:12.", "echo [redacted]."},
		{"HexUpper", "C0FFEE00C0FFEE00C0FFEE00C0FFEE00", "[redacted]"},
		{"Base64URL", `{"dGhpcyBpcyBh_c2VjcmV0-dG9rZW4": 1}`, `{"[redacted]": 1}`},
		{"Twice", "shortshort", "[redacted]"},
		{"Adjacent", "short lettersonlyapitoken", "[redacted] [redacted]"},
		{"Touching", "shortlettersonlyapitoken", "[redacted]"},
		{"Overlapping", "lettersonlyapitokenlettersonlyapitoken", "[redacted]"},
		{"Prefix", "lettersonlyapitoke", "lettersonlyapitoke"},
		{"MultiByteAround", "é lettersonlyapitoken é", "é [redacted] é"},
		{"SplitByInvisibles", "x c0ffee00\u200bc0ffee00\u00adc0ffee00\u2060c0ffee00 y", "x [redacted] y"},
		{"SplitByCommas", "x c0ff,ee00,c0ff,ee00,c0ff,ee00,c0ff,ee00 y", "x [redacted] y"},
		{"ColonHexUpper", "3F-9C-A1-07-BE-EF-00-12", "[redacted]"},
		{"Fullwidth", "x \uff4c\uff45\uff54\uff54\uff45\uff52\uff53onlyapitoken y", "x [redacted] y"},
		{"CombiningMarks", "x l\u0301e\u0301t\u0301tersonlyapitoken y", "x [redacted] y"},
		{"PercentEscaped", "x %6c%65%74%74ersonlyapitoken y", "x [redacted] y"},
		{"HTMLEntities", "x &#108;&#x65;&#116;tersonlyapitoken y", "x [redacted] y"},
		{"UnicodeEscapes", `x \u006c\u0065\x74tersonlyapitoken y`, "x [redacted] y"},
		{"None", "nothing to see", "nothing to see"},
		{"Empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Scrub(tt.in); got != tt.want {
				t.Errorf("Scrub(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSecrets_EmptyAndNil(t *testing.T) {
	var nilSet *Secrets
	if got := nilSet.Scrub("a token"); got != "a token" {
		t.Errorf("nil Scrub = %q", got)
	}
	var zero Secrets
	zero.Add("", " \n", "tok en")
	if got, want := zero.Len(), 1; got != want {
		t.Errorf("Len() = %d, want %d (empty and white space ignored)", got, want)
	}
	if got := zero.Scrub("a token"); got != "a [redacted]" {
		t.Errorf("Scrub = %q", got)
	}
}

// A secret longer than maxSecret is matched by its beginning.
func TestSecrets_LongSecret(t *testing.T) {
	long := strings.Repeat("abcdefghij", 300)
	s := NewSecrets(long)
	if got := s.Scrub("x " + long + " y"); strings.Contains(got, long[:maxSecret]) {
		t.Errorf("Scrub left the long secret: %.80q", got)
	}
}

// scrubPrefix finds a secret that starts before the cut and ends after
// it, and ends its result there.
func TestSecrets_ScrubPrefixAcrossTheCut(t *testing.T) {
	s := NewSecrets("lettersonlyapitoken")
	text := "abc lettersonly apitoken def"
	for cut := 0; cut <= len(text); cut++ {
		got := s.scrubPrefix(text, cut)
		if strings.Contains(got, "letters") || strings.Contains(got, "apitok") {
			t.Errorf("scrubPrefix(%q, %d) = %q keeps part of the secret", text, cut, got)
		}
		if cut >= 5 && !strings.HasPrefix(got, "abc [redacted]") {
			t.Errorf("scrubPrefix(%q, %d) = %q", text, cut, got)
		}
	}
}

// Secrets are added while messages are scrubbed, from every worker.
func TestSecrets_Concurrent(t *testing.T) {
	s := NewSecrets()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 200 {
				s.Add(fmt.Sprintf("worker%dsecret%04d", w, i))
			}
		}()
		go func() {
			defer wg.Done()
			for range 200 {
				s.Scrub("a message about worker0secret0001 and others")
			}
		}()
	}
	wg.Wait()
	if got := s.Scrub("worker3secret0199"); got != redacted {
		t.Errorf("Scrub = %q", got)
	}
	if got, want := s.Len(), 800; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
}

// BenchmarkSecrets_Scrub scrubs a message against sets of one secret and
// of a million: the cost depends on the message and the number of
// distinct lengths, not on the number of secrets.
func BenchmarkSecrets_Scrub(b *testing.B) {
	msg := `HTTP 400: {"errors":{"user_group":[{"detail":"token 5a4e70ce5a4e70ce5a4e70ce5a4e70ce5a4e70ce5a4e70ce and Token test-api-token were refused"}]}} ` +
		strings.Repeat("the service says something long about the request ", 4)
	for _, n := range []int{1, 1_000_000} {
		s := NewSecrets("test-api-token")
		tokens := make([]string, n)
		for i := range tokens {
			tokens[i] = fmt.Sprintf("%048x", i)
		}
		s.Add(tokens...)
		b.Run(fmt.Sprintf("secrets=%d", s.Len()), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Scrub(msg)
			}
		})
	}
}

// BenchmarkSecrets_Add is the cost of registering a million state
// tokens.
func BenchmarkSecrets_Add(b *testing.B) {
	tokens := make([]string, 1_000_000)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("%048x", i)
	}
	b.ReportAllocs()
	for b.Loop() {
		NewSecrets(tokens...)
	}
}
