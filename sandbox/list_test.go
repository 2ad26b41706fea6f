package sandbox

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func listPage(t *testing.T, url, query string) []map[string]any {
	t.Helper()
	resp, body := call(t, "GET", url, "/v2/api/customers/?"+query, "")
	if resp.StatusCode != 200 {
		t.Fatalf("list: %d %v", resp.StatusCode, body)
	}
	var out []map[string]any
	results := body["results"].(map[string]any)
	for _, c := range results["customers"].([]any) {
		out = append(out, c.(map[string]any))
	}
	return out
}

// The camelCase revision spells every key of the answer and of each
// customer in camelCase, and leaves the user's keys (properties,
// mappings) alone.
func TestSandbox_ListCamel(t *testing.T) {
	s, url := start(t, Config{Quota: -1, ListStyle: ListCamel})
	s.Put(Group{ID: "org", Name: "Org", Tags: []string{"gold"}, Mapping: map[string]string{"40": "1"}, Properties: []byte(`{"snake_key": 1}`)})
	s.Put(Group{ID: "team", Name: "Team", Level: "Team", Parent: "org"})
	_, body := call(t, "GET", url, "/v2/api/customers/?page=1&page_size=10", "")
	if body["totalCount"] != float64(2) || body["total_count"] != nil || body["success"] != float64(1) {
		t.Fatalf("answer %v, want totalCount 2 and no total_count", body)
	}
	list := listPage(t, url, "page_size=10")
	want := []string{"accessGroup", "computedParentSchemaDatasourceMapping", "computedProperties", "emails", "groupTags", "hierarchyLevel",
		"isDemoGroup", "name", "parentSchemaDatasourceMapping", "properties", "providedId", "token"}
	for _, c := range list {
		var keys []string
		for k := range c {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, want) {
			t.Errorf("keys %v, want %v", keys, want)
		}
	}
	org := list[0]
	if org["providedId"] != "org" || org["accessGroup"] != "Production" || org["hierarchyLevel"] != "Organization" || org["token"] != s.Groups()["org"].Token ||
		org["groupTags"].([]any)[0] != "gold" || org["parentSchemaDatasourceMapping"].(map[string]any)["40"] != "1" {
		t.Errorf("org = %v", org)
	}
	if p := org["properties"].(map[string]any); p["snake_key"] != float64(1) {
		t.Errorf("properties %v: the user's keys must stay as they are", p)
	}
	if kids := listPage(t, url, "parent_provided_id=org"); len(kids) != 1 || kids[0]["providedId"] != "team" {
		t.Errorf("children of org: %v", kids)
	}
}

func TestCamel(t *testing.T) {
	for in, want := range map[string]string{"provided_id": "providedId", "is_demo_group": "isDemoGroup", "token": "token",
		"computed_parent_schema_datasource_mapping": "computedParentSchemaDatasourceMapping", "total_count": "totalCount"} {
		if got := camel(in); got != want {
			t.Errorf("camel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSandbox_GroupTags(t *testing.T) {
	_, url := start(t, Config{Quota: 3, Tags: []string{"gold", "silver"}})
	resp, body := call(t, "GET", url, "/api/group_tags/", "")
	if resp.StatusCode != 200 || body["success"] != float64(1) || fmt.Sprint(body["group_tags"]) != "[map[name:gold] map[name:silver]]" {
		t.Errorf("group tags: %d %v", resp.StatusCode, body)
	}
	if resp, _ := call(t, "GET", url, "/api/group_tags", ""); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("without the slash: %d, want 405", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", url+"/api/group_tags/", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a token: %v %v, want 401", resp, err)
	}
	// The fourth request is over the quota of 3, shared with every path.
	if resp, _ := call(t, "GET", url, "/api/group_tags/", ""); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("over the limit: %d, want 429", resp.StatusCode)
	}
}

func TestSandbox_HostileList(t *testing.T) {
	put := func(s *Server) {
		for i := range 4 {
			s.Put(Group{ID: fmt.Sprintf("c%d", i), Name: "C"})
		}
	}
	t.Run("swap-tokens", func(t *testing.T) {
		s, url := start(t, Config{Quota: -1, Hostile: []Hostile{HostileListSwapTokens}})
		put(s)
		g := s.Groups()
		list := listPage(t, url, "page_size=1")
		list = append(list, listPage(t, url, "page=2&page_size=1")...)
		list = append(list, listPage(t, url, "page=3&page_size=1")...)
		if list[0]["provided_id"] != "c0" || list[0]["token"] != g["c1"].Token || list[1]["token"] != g["c0"].Token || list[2]["token"] != g["c2"].Token {
			t.Errorf("tokens: %v %v %v", list[0]["token"], list[1]["token"], list[2]["token"])
		}
	})
	t.Run("duplicates", func(t *testing.T) {
		s, url := start(t, Config{Quota: -1, Hostile: []Hostile{HostileListDuplicates}})
		put(s)
		_, body := call(t, "GET", url, "/v2/api/customers/?page_size=1000", "")
		list := listPage(t, url, "page_size=1000")
		if body["total_count"] != float64(8) || len(list) != 8 {
			t.Fatalf("total %v, %d listed; want 8", body["total_count"], len(list))
		}
		for i := 0; i < 8; i += 2 {
			a, b := list[i], list[i+1]
			if a["provided_id"] != b["provided_id"] || a["access_group"] != "Production" || b["access_group"] != "Development" ||
				a["token"] == b["token"] || a["token"] != s.Groups()[a["provided_id"].(string)].Token {
				t.Errorf("pair %v / %v", a, b)
			}
		}
		if again := listPage(t, url, "page_size=1000"); again[1]["token"] != list[1]["token"] {
			t.Error("the copy's token changes between lists")
		}
	})
	t.Run("endless", func(t *testing.T) {
		s, url := start(t, Config{Quota: -1, Hostile: []Hostile{HostileListEndless}})
		put(s)
		seen := map[string]bool{}
		for page := range 3 {
			_, body := call(t, "GET", url, fmt.Sprintf("/v2/api/customers/?page=%d&page_size=1000", page+1000), "")
			list := body["results"].(map[string]any)["customers"].([]any)
			if body["total_count"] != float64(endlessTotal) || len(list) != 1000 {
				t.Fatalf("page %d: total %v, %d listed", page, body["total_count"], len(list))
			}
			for _, c := range list {
				id := c.(map[string]any)["provided_id"].(string)
				if seen[id] || s.Groups()[id].ID != "" || !strings.HasPrefix(id, "made-up-") {
					t.Fatalf("customer %q: seen before, or in the store", id)
				}
				seen[id] = true
			}
		}
	})
	t.Run("other-access-group", func(t *testing.T) {
		s, url := start(t, Config{Quota: -1, Hostile: []Hostile{HostileListOtherAccessGroup}})
		put(s)
		var groups []any
		for _, c := range listPage(t, url, "page_size=10") {
			groups = append(groups, c["access_group"])
		}
		if fmt.Sprint(groups) != "[Development Production Development Production]" {
			t.Errorf("access groups %v", groups)
		}
	})
}
