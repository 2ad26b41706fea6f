package explo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"groupsync/reconcile"
	"groupsync/sandbox"
)

func sandboxCustomers(t *testing.T, cfg sandbox.Config) (*sandbox.Server, *Customers) {
	t.Helper()
	cfg.Token, cfg.Quota = token, -1
	sb := sandbox.New(cfg)
	ts := httptest.NewServer(sb)
	t.Cleanup(ts.Close)
	return sb, New(ts.URL, token, 5*time.Second, 2).Customers()
}

func listAll(t *testing.T, cs *Customers, q reconcile.ListQuery) []reconcile.Applied {
	t.Helper()
	var all []reconcile.Applied
	for q.Page = 1; ; q.Page++ {
		p, err := cs.ListGroups(context.Background(), q)
		if err != nil {
			t.Fatalf("page %d: %v", q.Page, err)
		}
		all = append(all, p.Groups...)
		if !p.More {
			return all
		}
	}
}

// Every revision of the list reads as the same customers.
func TestCustomers_ListRevisionsReadAlike(t *testing.T) {
	put := func(sb *sandbox.Server) {
		sb.Put(sandbox.Group{ID: "org", Name: "Org", Token: "tok-org", Tags: []string{"gold", "eu"}, Emails: []string{"a@x.com"}, IsDemo: true,
			Mapping: map[string]string{"40": "213"}, Properties: json.RawMessage(`{"filterValue": "v", "snake_key": 2}`)})
		sb.Put(sandbox.Group{ID: "team", Name: "Team", Token: "tok-team", Level: "Team", Parent: "org"})
	}
	var want []reconcile.Applied
	for _, style := range sandbox.ListStyles {
		sb, cs := sandboxCustomers(t, sandbox.Config{ListStyle: style})
		put(sb)
		got := listAll(t, cs, reconcile.ListQuery{})
		if want == nil {
			want = got
			org := got[0]
			if len(got) != 2 || org.ID != "org" || org.Token != "tok-org" || org.EnvTag != "Production" || !org.IsDemo ||
				fmt.Sprint(org.Cust().Tags, org.Cust().Emails, org.Mapping, org.Properties) != `[eu gold] [a@x.com] [{40 213}] [{filterValue "v"} {snake_key 2}]` {
				t.Fatalf("%s: %+v %+v", style, org, org.Cust())
			}
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s reads\n%+v\nwant (as %s)\n%+v", style, got, sandbox.ListStyles[0], want)
		}
		if kids := listAll(t, cs, reconcile.ListQuery{Parent: "org"}); len(kids) != 1 || kids[0].ID != "team" || kids[0].Cust().Level != "Team" {
			t.Errorf("%s: children of org %+v", style, kids)
		}
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{"providedId": "provided_id", "isDemoGroup": "is_demo_group", "token": "token", "totalCount": "total_count",
		"computedParentSchemaDatasourceMapping": "computed_parent_schema_datasource_mapping", "providedID": "provided_id", "HTTPStatus": "http_status",
		"already_snake": "already_snake", "page2Size": "page2_size", "": ""} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}

// A page in no documented shape, or one that says two things, is not the
// API's.
func TestCustomers_ListShapes(t *testing.T) {
	tests := []struct {
		name, body string
		ids        string
		more       bool
		err        error
	}{
		{"CamelTwiceTheSame", `{"totalCount": 1, "total_count": 1, "results": {"customers": [{"providedId": "a", "token": "t"}]}}`, "a", false, nil},
		{"CamelTwiceDiffering", `{"totalCount": 1, "total_count": 2, "results": {"customers": []}}`, "", false, reconcile.ErrUnreadable},
		{"CustomerTwiceDiffering", `{"total_count": 1, "results": {"customers": [{"providedId": "a", "provided_id": "b"}]}}`, "", false, reconcile.ErrUnreadable},
		{"MixedPage", `{"total_count": 2, "results": {"customers": [{"providedId": "a"}, {"provided_id": "b"}]}}`, "a,b", false, nil},
		{"EscapedKeys", `{"total\u0043ount": 1, "results": {"customers": [{"provided\u0049d": "a", "x\u0041": {"yZ": 1}}]}}`, "a", false, nil},
		{"CountCamel", `{"count": 1, "next": null, "results": [{"providedId": "a", "accessGroup": "Production"}]}`, "a", false, nil},
		{"ResultsNotAList", `{"totalCount": 1, "results": {"customers": 7}}`, "", false, reconcile.ErrNotAPI},
		{"CustomerNotAnObject", `{"totalCount": 1, "results": {"customers": ["a"]}}`, "", false, reconcile.ErrNotAPI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := serve(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, tt.body) })
			p, err := c.Customers().ListGroups(context.Background(), reconcile.ListQuery{Page: 1})
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Errorf("err = %v, want %v", err, tt.err)
				}
				return
			}
			var ids []string
			for _, g := range p.Groups {
				ids = append(ids, g.ID)
			}
			if err != nil || strings.Join(ids, ",") != tt.ids || p.More != tt.more {
				t.Errorf("ListGroups() = %v (more %v), %v; want %s", ids, p.More, err, tt.ids)
			}
		})
	}
}

// A customer object that names its parent makes the parent known; one
// that does not leaves it unknown.
func TestCustomers_ListReadsParentWhenPresent(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"total_count": 4, "results": {"customers": [
			{"provided_id": "a", "parent_provided_id": "p"}, {"providedId": "b", "parentProvidedId": "p"},
			{"provided_id": "c", "parent_provided_id": null}, {"provided_id": "d"}]}}`)
	})
	p, err := c.Customers().ListGroups(context.Background(), reconcile.ListQuery{Page: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		parent string
		known  bool
	}{{"p", true}, {"p", true}, {"", true}, {"", false}}
	for i, g := range p.Groups {
		if g.Cust().Parent != want[i].parent || g.Managed.Has(reconcile.FieldParent) != want[i].known {
			t.Errorf("%s: parent %q known %v, want %+v", g.ID, g.Cust().Parent, g.Managed.Has(reconcile.FieldParent), want[i])
		}
	}
	bad := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"total_count": 1, "results": {"customers": [{"provided_id": "a", "parent_provided_id": 7}]}}`)
	})
	if _, err := bad.Customers().ListGroups(context.Background(), reconcile.ListQuery{Page: 1}); err == nil || !strings.Contains(err.Error(), "parent_provided_id") {
		t.Errorf("a parent that is a number: %v", err)
	}
}

// The client reports what the list says, lies included, with each
// customer's access group: checking a list is the caller's job.
func TestCustomers_ListHostile(t *testing.T) {
	put := func(sb *sandbox.Server) {
		for i := range 3 {
			sb.Put(sandbox.Group{ID: fmt.Sprintf("c%d", i), Name: "C"})
		}
	}
	t.Run("duplicates", func(t *testing.T) {
		sb, cs := sandboxCustomers(t, sandbox.Config{Hostile: []sandbox.Hostile{sandbox.HostileListDuplicates}, ListStyle: sandbox.ListCamel})
		put(sb)
		got := listAll(t, cs, reconcile.ListQuery{})
		if len(got) != 6 || got[0].ID != got[1].ID || got[0].EnvTag != "Production" || got[1].EnvTag != "Development" || got[0].Token == got[1].Token {
			t.Errorf("listed %+v", got)
		}
	})
	t.Run("other-access-group", func(t *testing.T) {
		sb, cs := sandboxCustomers(t, sandbox.Config{Hostile: []sandbox.Hostile{sandbox.HostileListOtherAccessGroup}})
		put(sb)
		var envs []string
		for _, g := range listAll(t, cs, reconcile.ListQuery{}) {
			envs = append(envs, g.EnvTag)
		}
		if strings.Join(envs, ",") != "Development,Production,Development" {
			t.Errorf("access groups %v", envs)
		}
	})
	t.Run("swap-tokens", func(t *testing.T) {
		sb, cs := sandboxCustomers(t, sandbox.Config{Hostile: []sandbox.Hostile{sandbox.HostileListSwapTokens}})
		put(sb)
		got, g := listAll(t, cs, reconcile.ListQuery{}), sb.Groups()
		if got[0].Token != g["c1"].Token || got[1].Token != g["c0"].Token {
			t.Errorf("tokens as listed: %s %s", got[0].Token, got[1].Token)
		}
	})
	t.Run("endless", func(t *testing.T) {
		sb, cs := sandboxCustomers(t, sandbox.Config{Hostile: []sandbox.Hostile{sandbox.HostileListEndless}})
		put(sb)
		for page := 1; page <= 3; page++ {
			p, err := cs.ListGroups(context.Background(), reconcile.ListQuery{Page: page})
			if err != nil || len(p.Groups) != ListPageSize || !p.More {
				t.Fatalf("page %d: %d customers, more %v, %v", page, len(p.Groups), p.More, err)
			}
		}
	})
}

// The answers of the lists are input: whatever they hold, reading them
// never panics, a normalised page is JSON whose keys need no second pass,
// and every tag read has a name.
func FuzzListAnswers(f *testing.F) {
	f.Add([]byte(`{"totalCount": 2, "results": {"customers": [{"providedId": "a", "groupTags": ["x"], "properties": {"fooBar": 1}}, {"provided_id": "b"}]}}`))
	f.Add([]byte(`{"count": 1, "next": null, "previous": null, "results": [{"provided_id": "a", "parentProvidedId": null}]}`))
	f.Add([]byte(`{"success": 1, "group_tags": [{"name": "gold"}, "silver"]}`))
	f.Add([]byte(`["gold", {"name": "eu"}]`))
	f.Add([]byte(`{"HTTPStatus": 1, "total_count": 1, "totalCount": 1}`))
	f.Add([]byte(`{"total\u0043ount": 1, "results": [{"provided\u005fid": "a", "providedId": "a", "x": {"yZ": 1}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			// The client checks an answer before it is read.
		} else if norm, err := snakePage(data); err == nil {
			if !json.Valid(norm) {
				t.Fatalf("snakePage(%q) = %q, not JSON", data, norm)
			}
			again, err := snakePage(norm)
			if err != nil || string(again) != string(norm) {
				t.Fatalf("a second pass changed %q into %q (%v)", norm, again, err)
			}
			var got any
			json.Unmarshal(norm, &got)
			if want := referenceSnake(data); !reflect.DeepEqual(got, want) {
				t.Fatalf("snakePage(%q) reads as\n%v\nwant\n%v", data, got, want)
			}
		}
		var page listAnswer
		if json.Valid(data) && page.decodeRaw(data) == nil {
			if list, err := page.customers(); err == nil {
				for i := range list {
					applied(&list[i])
				}
			}
		}
		var tags tagsAnswer
		if json.Unmarshal(data, &tags) == nil && tags.err == nil {
			for _, n := range tags.names {
				if n == "" {
					t.Fatalf("an empty tag name from %q", data)
				}
			}
		}
	})
}

// referenceSnake is what snakePage must mean, the slow way: decode,
// rename the keys at each level, and nothing below.
func referenceSnake(data []byte) any {
	var v any
	json.Unmarshal(data, &v)
	rename := func(v any) any {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		out := map[string]any{}
		for k, x := range m {
			out[snake(k)] = x // spellings of one key carry one value, or snakePage refused
		}
		return out
	}
	customers := func(v any) any {
		list, ok := v.([]any)
		if !ok {
			return v
		}
		for i, c := range list {
			list[i] = rename(c)
		}
		return list
	}
	page, ok := rename(v).(map[string]any)
	if !ok {
		return v
	}
	switch r := page["results"].(type) {
	case []any:
		page["results"] = customers(r)
	case map[string]any:
		inner := rename(r).(map[string]any)
		if list, ok := inner["customers"]; ok {
			inner["customers"] = customers(list)
		}
		page["results"] = inner
	}
	return page
}
