package sandbox

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestSandbox_SlashRuleAndUnknownPaths(t *testing.T) {
	_, url := start(t, Config{Quota: -1})
	if resp, body := post(t, url, "/api/create_customer", `{"provided_id": "a", "name": "A"}`); resp.StatusCode != 405 || body["detail"] == nil {
		t.Errorf("no slash: %d %v, want 405", resp.StatusCode, body)
	}
	if resp, _ := call(t, "GET", url, "/api/create_customer/", ``); resp.StatusCode != 405 {
		t.Errorf("GET on a POST path: %d, want 405", resp.StatusCode)
	}
	resp, body := post(t, url, "/api/api/create_user_group/", `{}`)
	if resp.StatusCode != 404 || body != nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("unknown path: %d %v %s, want an HTML 404", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}
}

func TestSandbox_CustomerAPI(t *testing.T) {
	s, url := start(t, Config{Quota: -1})
	_, org := post(t, url, "/api/create_customer/", `{"provided_id": "org", "name": "Org", "group_tags": ["gold"], "emails": ["a@x.com"], "mapping": {"40": "1"}, "properties": {"p": 1, "q": 1}}`)
	c := org["customer"].(map[string]any)
	if org["new_customer"] != true || c["hierarchy_level"] != "Organization" || c["access_group"] != "Production" || c["token"] == "" {
		t.Fatalf("create = %v", org)
	}
	_, again := post(t, url, "/api/create_customer/", `{"provided_id": "org", "name": "Other"}`)
	if again["new_customer"] != false || again["customer"].(map[string]any)["name"] != "Org" {
		t.Errorf("get-or-create changed the customer: %v", again)
	}
	_, team := post(t, url, "/api/create_customer/", `{"provided_id": "team", "name": "Team", "hierarchy_level_name": "Team", "parent_provided_id": "org", "properties": {"q": 2}}`)
	tc := team["customer"].(map[string]any)
	if cp := tc["computed_properties"].(map[string]any); cp["p"] != float64(1) || cp["q"] != float64(2) {
		t.Errorf("computed properties %v, want the parent's and its own", cp)
	}
	if cm := tc["computed_parent_schema_datasource_mapping"].(map[string]any); cm["40"] != "1" {
		t.Errorf("computed mapping %v", cm)
	}
	refused := []struct{ path, body, want string }{
		{"/api/create_customer/", `{"provided_id": "x", "name": "X", "group_tags": ["nope"]}`, `group tag "nope" does not exist`},
		{"/api/create_customer/", `{"provided_id": "x", "name": "X", "hierarchy_level_name": "Galaxy"}`, `hierarchy level "Galaxy" does not exist`},
		{"/api/create_customer/", `{"provided_id": "x", "name": "X", "hierarchy_level_name": "Team", "parent_provided_id": "ghost"}`, `parent customer "ghost" does not exist`},
		{"/api/create_customer/", `{"provided_id": "x", "name": "X", "hierarchy_level_name": "Organization", "parent_provided_id": "org"}`, "not higher"},
		{"/api/create_customer/", `{"provided_id": "x", "name": "X", "parent_provided_id": "org"}`, "not higher"},
	}
	for _, r := range refused {
		if resp, body := post(t, url, r.path, r.body); resp.StatusCode != 400 || body["success"] != float64(0) || !strings.Contains(fmt.Sprint(body["message"]), r.want) {
			t.Errorf("%s: %d %v, want %q", r.body, resp.StatusCode, body, r.want)
		}
	}
	// A partial update changes the fields sent, and nothing else;
	// group_tags replaces the set.
	_, upd := post(t, url, "/api/update_customer/", `{"provided_id": "org", "group_tags": []}`)
	if g := s.Groups()["org"]; upd["success"] != float64(1) || g.Name != "Org" || len(g.Tags) != 0 || g.Emails[0] != "a@x.com" || g.Mapping["40"] != "1" {
		t.Errorf("partial update: %v, %+v", upd, g)
	}
	if resp, _ := post(t, url, "/api/update_customer/", `{"provided_id": "ghost", "name": "G"}`); resp.StatusCode != 404 {
		t.Errorf("update of a missing customer: %d, want 404", resp.StatusCode)
	}
	_, got := post(t, url, "/api/get_customer/", `{"provided_id": "team"}`)
	if got["customer"].(map[string]any)["name"] != "Team" {
		t.Errorf("get = %v", got)
	}
	// Rotation: the old token stops working.
	old := tc["token"].(string)
	_, rot := post(t, url, "/api/refresh_customer_token/", `{"current_token": "`+old+`"}`)
	if nt := rot["customer"].(map[string]any)["token"]; nt == old || nt != s.Groups()["team"].Token {
		t.Errorf("rotate = %v", rot)
	}
	if resp, _ := post(t, url, "/api/refresh_customer_token/", `{"current_token": "`+old+`"}`); resp.StatusCode != 404 {
		t.Errorf("the old token still works: %d", resp.StatusCode)
	}
	// Delete cascades to every descendant.
	resp, del := call(t, "DELETE", url, "/api/delete_customer/", `{"current_token": "`+s.Groups()["org"].Token+`"}`)
	if resp.StatusCode != 200 || del["success"] != float64(1) || len(s.Groups()) != 0 {
		t.Errorf("delete: %d %v, left %v", resp.StatusCode, del, s.Groups())
	}
}

func TestSandbox_ListPaging(t *testing.T) {
	for _, style := range []string{"total_count", "count"} {
		t.Run(style, func(t *testing.T) {
			s, url := start(t, Config{Quota: -1, ListStyle: style})
			for i := range 25 {
				s.Put(Group{ID: fmt.Sprintf("c%02d", i), Name: "C"})
			}
			s.Put(Group{ID: "child", Name: "Child", Level: "Team", Parent: "c00"})
			seen := map[string]bool{}
			for page, param := range []string{"page_size", "pageSize", "page_size"} {
				_, body := call(t, "GET", url, fmt.Sprintf("/v2/api/customers/?page=%d&%s=10", page+1, param), "")
				var list []any
				if style == "count" {
					list = body["results"].([]any)
					if body["count"] != float64(26) {
						t.Errorf("count = %v", body["count"])
					}
				} else {
					list = body["results"].(map[string]any)["customers"].([]any)
					if body["total_count"] != float64(26) {
						t.Errorf("total_count = %v", body["total_count"])
					}
				}
				if want := []int{10, 10, 6}[page]; len(list) != want {
					t.Errorf("page %d has %d, want %d", page+1, len(list), want)
				}
				for _, c := range list {
					seen[c.(map[string]any)["provided_id"].(string)] = true
				}
			}
			if len(seen) != 26 {
				t.Errorf("saw %d customers, want 26", len(seen))
			}
			_, body := call(t, "GET", url, "/v2/api/customers/?parent_provided_id=c00&page_size=1000", "")
			if body["total_count"] != nil && body["total_count"] != float64(1) || body["count"] != nil && body["count"] != float64(1) {
				t.Errorf("filter by parent: %v", body)
			}
			if resp, _ := call(t, "GET", url, "/v2/api/customers/?page_size=1001", ""); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("page_size 1001: %d, want 400", resp.StatusCode)
			}
		})
	}
}
