package sandbox

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func raw(t *testing.T, url, path, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+path, strings.NewReader(body))
	req.Header.Set("Explo-Authorization", "Token "+token)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

func TestSandbox_HostileModes(t *testing.T) {
	body := `{"user_group_id": "a", "name": "A"}`
	tests := []struct {
		mode  Hostile
		check func(t *testing.T, s *Server, resp *http.Response, text string)
	}{
		{HostileRedirect, func(t *testing.T, s *Server, resp *http.Response, text string) {
			if resp.StatusCode != 307 || resp.Header.Get("Location") != "https://attacker.invalid/api/create_user_group/" {
				t.Errorf("%d %s", resp.StatusCode, resp.Header.Get("Location"))
			}
		}},
		{HostileOtherGroup, func(t *testing.T, s *Server, resp *http.Response, text string) {
			if !strings.Contains(text, `"provided_id":"not-a"`) || strings.Contains(text, s.Groups()["a"].Token) {
				t.Errorf("answer %s", text)
			}
		}},
		{HostileSameToken, func(t *testing.T, s *Server, resp *http.Response, text string) {
			if s.Groups()["a"].Token != sameToken {
				t.Errorf("token %s", s.Groups()["a"].Token)
			}
		}},
		{HostileNearJSON, func(t *testing.T, s *Server, resp *http.Response, text string) {
			if resp.StatusCode != 200 || strings.HasPrefix(text, "{") && strings.HasSuffix(strings.TrimSpace(text), "}") {
				t.Errorf("%d %q: want near-JSON", resp.StatusCode, text)
			}
		}},
		{HostileEchoToken, func(t *testing.T, s *Server, resp *http.Response, text string) {
			if resp.StatusCode != 400 || !strings.Contains(text, token) || !strings.Contains(text, s.Groups()["a"].Token) {
				t.Errorf("%d %s", resp.StatusCode, text)
			}
		}},
		{HostileEchoText, func(t *testing.T, s *Server, resp *http.Response, text string) {
			i := strings.Index(text, token)
			if resp.StatusCode != 502 || i < 0 || i > 300 || i+len(token) < 300 {
				t.Errorf("%d: the API token at %d of %q, want it across byte 300", resp.StatusCode, i, text)
			}
		}},
		{HostileEchoKey, func(t *testing.T, s *Server, resp *http.Response, text string) {
			if resp.StatusCode != 400 || !strings.Contains(text, `"`+token+`":"invalid"`) || !strings.Contains(text, `"`+s.Groups()["a"].Token+`":"refused"`) {
				t.Errorf("%d %s", resp.StatusCode, text)
			}
		}},
		{HostileEchoState, func(t *testing.T, s *Server, resp *http.Response, text string) {
			others := []string{s.Groups()["other-0"].Token, strings.ToUpper(s.Groups()["other-1"].Token), s.Groups()["other-3"].Token, token[:len(token)/2] + " "}
			for _, want := range others {
				if resp.StatusCode != 400 || !strings.Contains(text, want) || strings.Contains(text, s.Groups()["a"].Token) {
					t.Errorf("%d %s: want %q in it", resp.StatusCode, text, want)
				}
			}
		}},
		{HostileRedirectToken, func(t *testing.T, s *Server, resp *http.Response, text string) {
			if resp.StatusCode != 302 || resp.Header.Get("Location") != "https://"+token+".attacker.invalid/api/create_user_group/" {
				t.Errorf("%d %s", resp.StatusCode, resp.Header.Get("Location"))
			}
		}},
		{HostileThrottle, func(t *testing.T, s *Server, resp *http.Response, text string) {
			if resp.StatusCode != 429 || len(s.Groups()) != 0 {
				t.Errorf("%d", resp.StatusCode)
			}
		}},
		{HostileNotFound, func(t *testing.T, s *Server, resp *http.Response, text string) {
			if resp.StatusCode != 404 || !strings.Contains(text, "<html") {
				t.Errorf("%d %s", resp.StatusCode, text)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			s, url := start(t, Config{Quota: -1, Hostile: []Hostile{tt.mode}})
			for i := range 4 {
				if tt.mode == HostileEchoState {
					s.Put(Group{ID: fmt.Sprintf("other-%d", i), Name: "O"})
				}
			}
			resp, text := raw(t, url, "/api/create_user_group/", body)
			tt.check(t, s, resp, text)
		})
	}
}

func TestSandbox_PersistNullAndReportsErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.json")
	os.WriteFile(path, []byte("null"), 0o600)
	s, url := start(t, Config{Quota: -1})
	stop, err := s.Persist(path)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := post(t, url, "/api/create_user_group/", `{"user_group_id": "a", "name": "A"}`); resp.StatusCode != 200 {
		t.Fatalf("create after loading null: %d", resp.StatusCode)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	post(t, url, "/api/update_user_group/", `{"user_group_id": "a", "name": "B"}`)
	if err := stop(); err == nil && os.Geteuid() != 0 {
		t.Error("stop() hid a failed save")
	}
}
