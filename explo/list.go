package explo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"groupsync/reconcile"
)

// listAnswer is a page of the list in any revision of the docs: total_count
// with results.customers, the older count, next and previous with results
// a list, and the revision that spells every key in camelCase (totalCount,
// providedId, groupTags, accessGroup, hierarchyLevel, …). Keys are brought
// to snake_case before the typed decode, so one [Customer] reads them all.
type listAnswer struct{ listResponse }

// UnmarshalJSON normalises the keys of the page and of each customer, then
// decodes the page.
func (a *listAnswer) UnmarshalJSON(data []byte) error {
	norm, err := snakePage(data)
	if err != nil {
		return err
	}
	return json.Unmarshal(norm, &a.listResponse)
}

// snakePage rewrites the keys of a page of the list, and of the customers
// in it, in snake_case. Only those keys: the keys inside properties and
// mappings are the user's, and stay as they are. A page that does not
// need it is returned as it came.
func snakePage(data []byte) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, err
	}
	changed, err := snakeKeys(top)
	if err != nil {
		return nil, err
	}
	results, ok := top["results"]
	if !ok {
		return reencode(data, top, changed)
	}
	var inner map[string]json.RawMessage
	switch first(results) {
	case '[':
		more, err := snakeList(&results)
		if err != nil {
			return nil, err
		}
		top["results"], changed = results, changed || more
	case '{':
		if err := json.Unmarshal(results, &inner); err != nil {
			return nil, err
		}
		more, err := snakeKeys(inner)
		if err != nil {
			return nil, err
		}
		if list, ok := inner["customers"]; ok && first(list) == '[' {
			listChanged, err := snakeList(&list)
			if err != nil {
				return nil, err
			}
			inner["customers"], more = list, more || listChanged
		}
		if more {
			if top["results"], err = json.Marshal(inner); err != nil {
				return nil, err
			}
			changed = true
		}
	}
	return reencode(data, top, changed)
}

func reencode(data []byte, m map[string]json.RawMessage, changed bool) ([]byte, error) {
	if !changed {
		return data, nil
	}
	return json.Marshal(m)
}

func first(raw json.RawMessage) byte {
	t := bytes.TrimLeft(raw, " \t\r\n")
	if len(t) == 0 {
		return 0
	}
	return t[0]
}

// snakeList rewrites the keys of each customer object of a JSON array in
// place, and reports whether any changed. Elements that are not objects
// are left for the typed decode to refuse.
func snakeList(list *json.RawMessage) (bool, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(*list, &items); err != nil {
		return false, err
	}
	changed := false
	for i, item := range items {
		if first(item) != '{' || !camelKey.Match(item) {
			continue
		}
		var c map[string]json.RawMessage
		if err := json.Unmarshal(item, &c); err != nil {
			return false, err
		}
		more, err := snakeKeys(c)
		if err != nil {
			return false, err
		}
		if more {
			if items[i], err = json.Marshal(c); err != nil {
				return false, err
			}
			changed = true
		}
	}
	if changed {
		var err error
		*list, err = json.Marshal(items)
		return true, err
	}
	return false, nil
}

// camelKey finds, anywhere in an object, a key that has an upper-case
// letter: a customer without one needs no rewriting, which spares the
// snake_case revision every extra decode. It may also match a key inside
// properties, which only costs the rewrite.
var camelKey = regexp.MustCompile(`"[a-z0-9_]*[A-Z][A-Za-z0-9_]*"\s*:`)

// snakeKeys renames the keys of m to snake_case, and reports whether any
// changed. Two spellings of one key are an error unless they carry the
// same value: the page would say two things.
func snakeKeys(m map[string]json.RawMessage) (bool, error) {
	changed := false
	for k, v := range m {
		s := snake(k)
		if s == k {
			continue
		}
		if other, ok := m[s]; ok && !bytes.Equal(bytes.TrimSpace(other), bytes.TrimSpace(v)) {
			return false, fmt.Errorf("the answer has both %q and %q", s, k)
		}
		delete(m, k)
		m[s] = v
		changed = true
	}
	return changed, nil
}

// snake turns a camelCase key into snake_case: providedId is provided_id,
// isDemoGroup is_demo_group, and a run of capitals is one word (providedID
// is provided_id). A key without an ASCII capital is returned as it is.
func snake(key string) string {
	if !bytes.ContainsAny([]byte(key), "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		return key
	}
	b := make([]byte, 0, len(key)+4)
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c < 'A' || c > 'Z' {
			b = append(b, c)
			continue
		}
		prevLower := i > 0 && (isLower(key[i-1]) || isDigit(key[i-1]))
		nextLower := i+1 < len(key) && isLower(key[i+1])
		prevUpper := i > 0 && key[i-1] >= 'A' && key[i-1] <= 'Z'
		if i > 0 && key[i-1] != '_' && (prevLower || prevUpper && nextLower) {
			b = append(b, '_')
		}
		b = append(b, c+'a'-'A')
	}
	return string(b)
}

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// readParent records the parent a customer object names, when it names
// one: some revisions may carry parent_provided_id, the documented object
// does not. Only then is the parent known (in Managed); null or "" is no
// parent.
func readParent(c *Customer, a *reconcile.Applied) error {
	if len(c.Parent) == 0 {
		return nil
	}
	var parent *string
	if err := json.Unmarshal(c.Parent, &parent); err != nil {
		return errors.New("parent_provided_id is not a string")
	}
	if parent != nil {
		a.Customer.Parent = *parent
	}
	a.Managed |= reconcile.FieldParent
	return nil
}
