package explo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"groupsync/reconcile"
)

// PathGroupTags is the list of group tags, below the base URL.
const PathGroupTags = "/api/group_tags/"

// ListTags reads the names of the group tags the token can see, in the
// service's order. The documented answer is {"success": 1, "group_tags":
// [{"name": …}, …]}; a list of names, bare or under group_tags (or
// groupTags), is read too, since only one example documents the shape.
func (cs *Customers) ListTags(ctx context.Context) ([]string, error) {
	var r tagsAnswer
	code, err := cs.c.do(ctx, request{method: http.MethodGet, path: PathGroupTags, array: true}, &r)
	if err != nil {
		return nil, err
	}
	if r.err != nil {
		return nil, &Error{Status: code, Kind: reconcile.ErrNotAPI, Message: "the group tag list is not the documented JSON: " + r.err.Error(), API: true}
	}
	return r.names, nil
}

// tagsAnswer is the answer of the group tag list. A shape it cannot read
// is kept in err rather than failing the decode, so that the message can
// say what is wrong.
type tagsAnswer struct {
	success *Flag
	names   []string
	err     error
}

func (a *tagsAnswer) ok() bool { return a.success == nil || bool(*a.success) }

func (a *tagsAnswer) UnmarshalJSON(data []byte) error {
	list := json.RawMessage(data)
	if first(data) == '{' {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return err
		}
		if s, ok := m["success"]; ok {
			a.success = new(Flag)
			if err := a.success.UnmarshalJSON(s); err != nil {
				return err
			}
		}
		if !a.ok() {
			return nil
		}
		var found bool
		if list, found = m["group_tags"]; !found {
			list, found = m["groupTags"]
		}
		if !found {
			a.err = errors.New("no group_tags")
			return nil
		}
	}
	a.names, a.err = tagNames(list)
	return nil
}

// tagNames reads a list whose items are tag objects with a name, or
// names.
func tagNames(list json.RawMessage) ([]string, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(list, &items); err != nil {
		return nil, errors.New("group_tags is not a list")
	}
	names := make([]string, 0, len(items))
	for i, item := range items {
		var name string
		if first(item) == '{' {
			var t struct {
				Name *string `json:"name"`
			}
			if json.Unmarshal(item, &t) != nil || t.Name == nil {
				return nil, fmt.Errorf("group tag %d has no name", i+1)
			}
			name = *t.Name
		} else if json.Unmarshal(item, &name) != nil {
			return nil, fmt.Errorf("group tag %d is neither a name nor an object with one", i+1)
		}
		if name == "" {
			return nil, fmt.Errorf("group tag %d has an empty name", i+1)
		}
		names = append(names, name)
	}
	return names, nil
}
