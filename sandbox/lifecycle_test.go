package sandbox

import (
	"net/http"
	"strings"
	"testing"
)

func create(t *testing.T, url, body string) map[string]any {
	t.Helper()
	resp, answer := post(t, url, "/api/create_customer/", body)
	if resp.StatusCode != 200 || answer["success"] != float64(1) {
		t.Fatalf("create %s: %d %v", body, resp.StatusCode, answer)
	}
	return answer["customer"].(map[string]any)
}

func del(t *testing.T, url, tok string) (*http.Response, map[string]any) {
	t.Helper()
	return call(t, "DELETE", url, "/api/delete_customer/", `{"current_token": "`+tok+`"}`)
}

func TestSandbox_DeleteChildren(t *testing.T) {
	t.Run("refuse", func(t *testing.T) {
		s, url := start(t, Config{Quota: -1, DeleteChildren: DeleteRefuse})
		org := create(t, url, `{"provided_id": "org", "name": "Org"}`)
		create(t, url, `{"provided_id": "team", "name": "Team", "hierarchy_level_name": "Team", "parent_provided_id": "org"}`)
		create(t, url, `{"provided_id": "dept", "name": "Dept", "hierarchy_level_name": "Department", "parent_provided_id": "org"}`)
		resp, answer := del(t, url, org["token"].(string))
		if resp.StatusCode != 200 || answer["success"] != float64(0) || answer["message"] != hasChildrenMessage || len(s.Groups()) != 3 {
			t.Fatalf("delete of a parent: %d %v, %d left", resp.StatusCode, answer, len(s.Groups()))
		}
		// Removing the parent relationship, by null and by "", lets it go;
		// the children stay, at their levels.
		for _, body := range []string{`{"provided_id": "team", "parent_provided_id": null}`, `{"provided_id": "dept", "parent_provided_id": ""}`} {
			if resp, answer := post(t, url, "/api/update_customer/", body); resp.StatusCode != 200 || answer["success"] != float64(1) {
				t.Fatalf("%s: %d %v", body, resp.StatusCode, answer)
			}
		}
		if g := s.Groups()["team"]; g.Parent != "" || g.Level != "Team" {
			t.Errorf("team after removing its parent: %+v", g)
		}
		if resp, answer := del(t, url, org["token"].(string)); resp.StatusCode != 200 || answer["success"] != float64(1) || len(s.Groups()) != 2 {
			t.Errorf("delete of a parent without children: %d %v, left %v", resp.StatusCode, answer, s.Groups())
		}
	})
	t.Run("cascade", func(t *testing.T) {
		s, url := start(t, Config{Quota: -1})
		org := create(t, url, `{"provided_id": "org", "name": "Org"}`)
		create(t, url, `{"provided_id": "dept", "name": "Dept", "hierarchy_level_name": "Department", "parent_provided_id": "org"}`)
		create(t, url, `{"provided_id": "team", "name": "Team", "hierarchy_level_name": "Team", "parent_provided_id": "dept"}`)
		create(t, url, `{"provided_id": "other", "name": "Other"}`)
		if resp, answer := del(t, url, org["token"].(string)); resp.StatusCode != 200 || answer["success"] != float64(1) {
			t.Fatalf("delete: %d %v", resp.StatusCode, answer)
		}
		if g := s.Groups(); len(g) != 1 || g["other"].ID == "" {
			t.Errorf("left %v, want only other", g)
		}
	})
}

// A level change must keep a customer above its children.
func TestSandbox_LevelStaysAboveChildren(t *testing.T) {
	s, url := start(t, Config{Quota: -1})
	create(t, url, `{"provided_id": "org", "name": "Org"}`)
	create(t, url, `{"provided_id": "dept", "name": "Dept", "hierarchy_level_name": "Department", "parent_provided_id": "org"}`)
	resp, answer := post(t, url, "/api/update_customer/", `{"provided_id": "org", "hierarchy_level_name": "Department"}`)
	if resp.StatusCode != 400 || answer["success"] != float64(0) || !strings.Contains(answer["message"].(string), `has the child "dept"`) || s.Groups()["org"].Level != "Organization" {
		t.Errorf("lowering a parent to its child's level: %d %v", resp.StatusCode, answer)
	}
}

// A rename keeps the token, takes the children along, and never lands on
// an id that exists.
func TestSandbox_Rename(t *testing.T) {
	s, url := start(t, Config{Quota: -1})
	org := create(t, url, `{"provided_id": "org", "name": "Org"}`)
	create(t, url, `{"provided_id": "team", "name": "Team", "hierarchy_level_name": "Team", "parent_provided_id": "org"}`)
	create(t, url, `{"provided_id": "taken", "name": "Taken"}`)
	before := s.Groups()
	for _, body := range []string{`{"provided_id": "org", "new_provided_id": "taken"}`, `{"provided_id": "org", "new_provided_id": "org"}`, `{"provided_id": "org", "new_provided_id": ""}`} {
		resp, answer := post(t, url, "/api/update_customer/", body)
		if resp.StatusCode != 400 || answer["success"] != float64(0) || answer["message"] == nil {
			t.Errorf("%s: %d %v, want a refusal", body, resp.StatusCode, answer)
		}
	}
	if after := s.Groups(); after["org"].Token != before["org"].Token || after["taken"].Token != before["taken"].Token || len(after) != 3 {
		t.Fatalf("a refused rename changed the store: %v", after)
	}
	resp, answer := post(t, url, "/api/update_customer/", `{"provided_id": "org", "new_provided_id": "org-2", "name": "Org 2"}`)
	c, _ := answer["customer"].(map[string]any)
	if resp.StatusCode != 200 || c["provided_id"] != "org-2" || c["token"] != org["token"] || c["name"] != "Org 2" {
		t.Fatalf("rename: %d %v", resp.StatusCode, answer)
	}
	g := s.Groups()
	if _, old := g["org"]; old || g["org-2"].Token != org["token"] || g["team"].Parent != "org-2" {
		t.Errorf("after the rename: %v", g)
	}
	if resp, _ := post(t, url, "/api/get_customer/", `{"provided_id": "org"}`); resp.StatusCode != 404 {
		t.Errorf("get of the old id: %d, want 404", resp.StatusCode)
	}
	if kids := listPage(t, url, "parent_provided_id=org-2"); len(kids) != 1 || kids[0]["provided_id"] != "team" {
		t.Errorf("children under the new id: %v", kids)
	}
}

// A rotate whose answer is lost has happened: the old token is dead, and
// get_customer answers the new one.
func TestSandbox_LoseAnswers(t *testing.T) {
	s, url := start(t, Config{Quota: -1})
	old := create(t, url, `{"provided_id": "a", "name": "A"}`)["token"].(string)
	s.LoseAnswers("/api/refresh_customer_token/", 1)
	req, _ := http.NewRequest("POST", url+"/api/refresh_customer_token/", strings.NewReader(`{"current_token": "`+old+`"}`))
	req.Header.Set("Explo-Authorization", "Token "+token)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		t.Fatalf("the answer arrived: %d", resp.StatusCode)
	}
	now := s.Groups()["a"].Token
	if now == old {
		t.Fatal("the rotate whose answer was lost did not happen")
	}
	_, got := post(t, url, "/api/get_customer/", `{"provided_id": "a"}`)
	if got["customer"].(map[string]any)["token"] != now {
		t.Errorf("get_customer = %v, want the new token", got)
	}
	if resp, _ := post(t, url, "/api/refresh_customer_token/", `{"current_token": "`+old+`"}`); resp.StatusCode != 404 {
		t.Errorf("a retry with the old token: %d, want 404", resp.StatusCode)
	}
	// Only n answers are lost.
	if resp, answer := post(t, url, "/api/refresh_customer_token/", `{"current_token": "`+now+`"}`); resp.StatusCode != 200 || answer["success"] != float64(1) {
		t.Errorf("the next rotate: %d %v", resp.StatusCode, answer)
	}
	if st := s.Stats(); st.Rotations != 2 || st.Faults != 1 {
		t.Errorf("stats %+v", st)
	}
}

// near-json covers the calls that hand out a token, after acting on them.
func TestSandbox_NearJSONCoversTokenAnswers(t *testing.T) {
	s, url := start(t, Config{Quota: -1, Hostile: []Hostile{HostileNearJSON}})
	resp, text := raw(t, url, "/api/create_customer/", `{"provided_id": "a", "name": "A"}`)
	tok := s.Groups()["a"].Token
	if resp.StatusCode != 200 || !strings.Contains(text, tok) || strings.HasPrefix(text, "{") && strings.HasSuffix(strings.TrimSpace(text), "}") {
		t.Errorf("create_customer: %d %q, want near-JSON after creating", resp.StatusCode, text)
	}
	resp, text = raw(t, url, "/api/refresh_customer_token/", `{"current_token": "`+tok+`"}`)
	now := s.Groups()["a"].Token
	if resp.StatusCode != 200 || now == tok || !strings.Contains(text, now) || strings.HasPrefix(text, "{") && strings.HasSuffix(strings.TrimSpace(text), "}") {
		t.Errorf("refresh_customer_token: %d %q, want near-JSON after rotating", resp.StatusCode, text)
	}
}
