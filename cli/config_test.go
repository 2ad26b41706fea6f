package cli

import (
	"context"
	"strings"
	"testing"
)

// $EXPLO_API_TOKEN is held to the same rule as a token file: a byte that
// no token has is refused, by kind and place, never shown.
func TestConfig_APITokenFromTheEnvironment(t *testing.T) {
	tests := []struct {
		name, env, want, wantErr string
	}{
		{"OK", "  tok-en_0123  \n", "tok-en_0123", ""},
		{"ByteOrderMark", "\ufefftok-en", "tok-en", ""},
		{"LineBreak", "secret-one\nsecret-two", "", "$EXPLO_API_TOKEN: the API token holds a line break (at byte 11 of 21), which a token never does; nothing was sent"},
		{"CarriageReturn", "secret\r\nmore", "", "the API token holds a line break (at byte 7 of 12)"},
		{"Tab", "secret\tmore", "", "the API token holds a tab (at byte 7 of 11)"},
		{"Escape", "secret\x1b[2J", "", "the API token holds a control character (at byte 7 of 10)"},
		{"Delete", "secret\x7f", "", "the API token holds a control character (at byte 7 of 7)"},
		{"NotASCII", "secrét", "", "the API token holds a character that is not ASCII (at byte 5 of 7)"},
		{"Empty", " \n ", "", "no API token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			got, err := c.apiToken(context.Background(), func(string) string { return tt.env })
			if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("apiToken() = %q, %v; want %q, %q", got, err, tt.want, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("the message shows the token: %v", err)
			}
		})
	}
}
