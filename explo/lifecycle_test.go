package explo

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"groupsync/reconcile"
	"groupsync/sandbox"
)

func TestCustomers_ListTags(t *testing.T) {
	_, cs := sandboxCustomers(t, sandbox.Config{Tags: []string{"gold", "silver"}})
	if got, err := cs.ListTags(context.Background()); err != nil || strings.Join(got, ",") != "gold,silver" {
		t.Errorf("ListTags() = %v, %v against the sandbox", got, err)
	}
	tests := []struct {
		name, body string
		want       string
		err        string
	}{
		{"Documented", `{"success": 1, "group_tags": [{"name": "a", "id": 3}, {"name": "b"}]}`, "a,b", ""},
		{"NamesUnderKey", `{"success": 1, "group_tags": ["a", "b"]}`, "a,b", ""},
		{"BareNames", `["a", "b"]`, "a,b", ""},
		{"BareObjects", `[{"name": "a"}]`, "a", ""},
		{"Camel", `{"groupTags": [{"name": "a"}]}`, "a", ""},
		{"Empty", `{"success": 1, "group_tags": []}`, "", ""},
		{"Refused", `{"success": 0, "message": "read-only token"}`, "", "success: 0: read-only token"},
		{"NoList", `{"success": 1, "tags": ["a"]}`, "", "not the documented JSON: no group_tags"},
		{"NotAList", `{"success": 1, "group_tags": "a,b"}`, "", "group_tags is not a list"},
		{"Unnamed", `{"success": 1, "group_tags": [{"id": 3}]}`, "", "group tag 1 has no name"},
		{"EmptyName", `["a", ""]`, "", "group tag 2 has an empty name"},
		{"Number", `[7]`, "", "group tag 1 is neither a name nor an object with one"},
		{"NearJSON", `)]}'` + "\n" + `["a"]`, "", "not the documented JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var path string
			c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				path = r.Method + " " + r.URL.Path
				io.WriteString(w, tt.body)
			})
			got, err := c.Customers().ListTags(context.Background())
			if path != "GET /api/group_tags/" {
				t.Errorf("request %s", path)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("ListTags() = %v, %v; want an error with %q", got, err, tt.err)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != tt.want {
				t.Errorf("ListTags() = %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// get_customer tells "gone" from a failure.
func TestCustomers_GetGroupNotFound(t *testing.T) {
	_, cs := sandboxCustomers(t, sandbox.Config{})
	if _, err := cs.GetGroup(context.Background(), "ghost"); !errors.Is(err, reconcile.ErrNotFound) {
		t.Errorf("get of a customer that does not exist: %v, want ErrNotFound", err)
	}
	tests := []struct {
		name   string
		status int
		body   string
		gone   bool
	}{
		{"SuccessZero", 200, `{"success": 0, "message": "Customer does not exist."}`, true},
		{"BadRequest", 400, `{"success": 0, "error": "No customer with that provided_id"}`, true},
		{"OtherRefusal", 400, `{"success": 0, "message": "provided_id: this field is required"}`, false},
		{"ProxyPage", 404, `<html><title>Not Found</title></html>`, false},
		{"Outage", 503, `{"detail": "not found the database"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			_, err := c.Customers().GetGroup(context.Background(), "a")
			if err == nil || errors.Is(err, reconcile.ErrNotFound) != tt.gone {
				t.Errorf("err = %v; gone %v, want %v", err, errors.Is(err, reconcile.ErrNotFound), tt.gone)
			}
		})
	}
	other := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"success": 1, "customer": {"provided_id": "b", "token": "tok-b"}}`)
	})
	if got, err := other.Customers().GetGroup(context.Background(), "a"); err == nil || !strings.Contains(err.Error(), `another customer, "b"`) || strings.Contains(err.Error(), "tok-b") {
		t.Errorf("an answer about another customer: %+v, %v", got, err)
	}
}

// Under the revision that refuses to delete a parent, the refusal is
// ErrHasChildren, and nothing else is.
func TestCustomers_DeleteRefusedForChildren(t *testing.T) {
	sb, cs := sandboxCustomers(t, sandbox.Config{DeleteChildren: sandbox.DeleteRefuse})
	ctx := context.Background()
	org, err := cs.CreateGroup(ctx, &reconcile.Group{ID: "org", Name: "Org"})
	if err != nil {
		t.Fatal(err)
	}
	team := &reconcile.Group{ID: "team", Name: "Team", Managed: reconcile.FieldLevel | reconcile.FieldParent, Customer: &reconcile.Customer{Level: "Team", Parent: "org"}}
	tr, err := cs.CreateGroup(ctx, team)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.DeleteGroup(ctx, "org", org.Token)
	if !errors.Is(err, reconcile.ErrHasChildren) || errors.Is(err, reconcile.ErrNotFound) || !strings.Contains(err.Error(), "You cannot delete a customer that has children") {
		t.Fatalf("delete of a parent: %v, want ErrHasChildren with the service's message", err)
	}
	if len(sb.Groups()) != 2 {
		t.Fatal("the refused delete deleted")
	}
	if _, err := cs.DeleteGroup(ctx, "team", tr.Token); err != nil {
		t.Fatalf("delete of the child: %v", err)
	}
	if _, err := cs.DeleteGroup(ctx, "org", org.Token); err != nil {
		t.Fatalf("delete of the parent once childless: %v", err)
	}
	if _, err := cs.DeleteGroup(ctx, "org", org.Token); !errors.Is(err, reconcile.ErrNotFound) || errors.Is(err, reconcile.ErrHasChildren) {
		t.Errorf("a second delete: %v, want ErrNotFound", err)
	}
	for _, body := range []string{`{"success": 0, "message": "Customer has children"}`, `{"success": 0, "error": "delete the child customers first"}`} {
		c := serve(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			io.WriteString(w, body)
		})
		if _, err := c.Customers().DeleteGroup(ctx, "org", "tok"); !errors.Is(err, reconcile.ErrHasChildren) {
			t.Errorf("%s: %v, want ErrHasChildren", body, err)
		}
	}
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"success": 0, "message": "read-only token"}`)
	})
	if _, err := c.Customers().DeleteGroup(ctx, "org", "tok"); err == nil || errors.Is(err, reconcile.ErrHasChildren) {
		t.Errorf("another refusal: %v", err)
	}
}

// A rotate whose answer is lost: the retry's old token is dead, and
// get_customer has the new one.
func TestCustomers_LostRotateIsLearntByGet(t *testing.T) {
	sb, cs := sandboxCustomers(t, sandbox.Config{})
	ctx := context.Background()
	r, err := cs.CreateGroup(ctx, &reconcile.Group{ID: "a", Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	sb.LoseAnswers(PathRotateToken, 1)
	if got, err := cs.RotateToken(ctx, "a", r.Token); !errors.Is(err, reconcile.ErrRetryable) || got.Token != "" {
		t.Fatalf("rotate with a lost answer: %+v, %v; want a retryable failure", got, err)
	}
	now := sb.Groups()["a"].Token
	if now == r.Token {
		t.Fatal("the service did not rotate")
	}
	if _, err := cs.RotateToken(ctx, "a", r.Token); !errors.Is(err, reconcile.ErrNotFound) {
		t.Errorf("a blind retry: %v, want ErrNotFound (the old token is dead)", err)
	}
	got, err := cs.GetGroup(ctx, "a")
	if err != nil || got.Token != now || got.ID != "a" {
		t.Errorf("get after the lost rotate: %+v, %v; want the new token", got, err)
	}
}

// A near-JSON answer to a call that hands out a token, made after the
// service acted, is a failure that shows no token.
func TestCustomers_NearJSONAfterActing(t *testing.T) {
	sb, cs := sandboxCustomers(t, sandbox.Config{Hostile: []sandbox.Hostile{sandbox.HostileNearJSON}})
	ctx := context.Background()
	_, err := cs.CreateGroup(ctx, &reconcile.Group{ID: "a", Name: "A"})
	created := sb.Groups()["a"].Token
	if !errors.Is(err, reconcile.ErrUnreadable) || created == "" || strings.Contains(err.Error(), created) {
		t.Fatalf("create: %v (created %v)", err, created != "")
	}
	_, err = cs.RotateToken(ctx, "a", created)
	now := sb.Groups()["a"].Token
	if !errors.Is(err, reconcile.ErrUnreadable) || now == created || strings.Contains(err.Error(), now) {
		t.Errorf("rotate: %v (rotated %v)", err, now != created)
	}
}
