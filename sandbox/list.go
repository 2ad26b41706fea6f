package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// The revisions of the list's answer that Explo's docs show.
const (
	// ListTotalCount answers total_count and results.customers.
	ListTotalCount = "total_count"
	// ListCount answers count, next, previous and results, a list, as an
	// older revision did.
	ListCount = "count"
	// ListCamel is the total_count revision with every key of the answer
	// and of each customer spelt in camelCase: totalCount, providedId,
	// groupTags, accessGroup, hierarchyLevel, …
	ListCamel = "camel"
)

// ListStyles lists the revisions, for flags.
var ListStyles = []string{ListTotalCount, ListCount, ListCamel}

// endlessTotal is the total a HostileListEndless list claims.
const endlessTotal = 1_000_000_000

// listCustomers answers one page of the customers of the token's access
// group, in creation order. It takes page from 1 and page_size up to 1000
// (also spelt pageSize, as the docs' own example does), and filters by
// parent and level.
func (s *Server) listCustomers(req *request) (int, map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Lists++
	page, size, err := pageOf(req.query)
	if err != nil {
		return s.rejected(http.StatusBadRequest, err.Error())
	}
	parent, level := first(req.query, "parent_provided_id"), first(req.query, "hierarchy_level_name")
	var all []*Group
	for _, g := range s.groups {
		if g.AccessGroup == s.cfg.AccessGroup && (parent == "" || g.Parent == parent) && (level == "" || g.Level == level) {
			all = append(all, g)
		}
	}
	slices.SortFunc(all, func(a, b *Group) int { return a.Seq - b.Seq })
	total, at := s.listing(all)
	from := min((page-1)*size, total)
	to := min(from+size, total)
	list := make([]any, 0, to-from)
	for i := from; i < to; i++ {
		list = append(list, at(i))
	}
	switch s.cfg.ListStyle {
	case ListCount:
		var next, prev any
		if to < total {
			next = fmt.Sprintf("/v2/api/customers/?page=%d&page_size=%d", page+1, size)
		}
		if page > 1 {
			prev = fmt.Sprintf("/v2/api/customers/?page=%d&page_size=%d", page-1, size)
		}
		return http.StatusOK, map[string]any{"success": 1, "count": total, "next": next, "previous": prev, "results": list}
	case ListCamel:
		for i, c := range list {
			list[i] = camelKeys(c.(map[string]any))
		}
		return http.StatusOK, map[string]any{"success": 1, "totalCount": total, "results": map[string]any{"customers": list}}
	}
	return http.StatusOK, map[string]any{"success": 1, "total_count": total, "results": map[string]any{"customers": list}}
}

func first(q map[string][]string, key string) string {
	if v := q[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// pageOf reads page (from 1) and page_size or pageSize (1 to 1000,
// default 20).
func pageOf(q map[string][]string) (page, size int, err error) {
	page, size = 1, 20
	if v := first(q, "page"); v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 1 {
			return 0, 0, fmt.Errorf("page: must be a positive integer")
		}
	}
	for _, k := range []string{"page_size", "pageSize"} {
		if v := first(q, k); v != "" {
			if size, err = strconv.Atoi(v); err != nil || size < 1 || size > 1000 {
				return 0, 0, fmt.Errorf("%s: must be between 1 and 1000", k)
			}
		}
	}
	return page, size, nil
}

// listing is the list as the service answers it: how many customers it
// claims, and the customer at each index. The hostile list modes lie
// here, each on top of the others. Only the customers of the page asked
// are built, so a list of a million stays cheap. Callers hold s.mu.
func (s *Server) listing(all []*Group) (int, func(int) map[string]any) {
	n := len(all)
	at := func(i int) map[string]any { return s.customer(all[i]) }
	if s.hostile[HostileListEndless] {
		n, at = endlessTotal, s.madeUp
	}
	if s.hostile[HostileListDuplicates] {
		// Every customer twice: the copy in another access group, with
		// another token (the same one at every call).
		base := at
		n, at = 2*n, func(i int) map[string]any {
			c := base(i / 2)
			if i%2 == 1 {
				c["access_group"] = s.otherAccessGroup()
				c["token"] = fakeToken(c["token"].(string))
			}
			return c
		}
	}
	if s.hostile[HostileListSwapTokens] && n >= 2 {
		// The first two customers carry each other's tokens.
		base := at
		at = func(i int) map[string]any {
			c := base(i)
			if i < 2 {
				c["token"] = base(1 - i)["token"]
			}
			return c
		}
	}
	if s.hostile[HostileListOtherAccessGroup] {
		// Every other customer, from the first, in another access group.
		base := at
		at = func(i int) map[string]any {
			c := base(i)
			if i%2 == 0 {
				c["access_group"] = s.otherAccessGroup()
			}
			return c
		}
	}
	return n, at
}

// madeUp is the customer at index i of an endless list: one the store
// never held, with a token of its own.
func (s *Server) madeUp(i int) map[string]any {
	return s.customer(&Group{ID: fmt.Sprintf("made-up-%010d", i), Name: "Made Up", Token: newToken(),
		Level: s.cfg.Levels[0], AccessGroup: s.cfg.AccessGroup, Mapping: map[string]string{}})
}

func (s *Server) otherAccessGroup() string {
	if s.cfg.AccessGroup == "Development" {
		return "Production"
	}
	return "Development"
}

// fakeToken is a token derived from another, as long as a real one.
func fakeToken(of string) string {
	sum := sha256.Sum256([]byte("copy of " + of))
	return hex.EncodeToString(sum[:24])
}

// camelKeys spells the keys of a customer in camelCase. The values are
// left alone: the keys of properties and mappings are the user's.
func camelKeys(c map[string]any) map[string]any {
	out := make(map[string]any, len(c))
	for k, v := range c {
		out[camel(k)] = v
	}
	return out
}

// camel turns snake_case into camelCase: provided_id is providedId.
func camel(snake string) string {
	var b strings.Builder
	up := false
	for _, r := range snake {
		switch {
		case r == '_':
			up = true
		case up:
			b.WriteRune(unicode.ToUpper(r))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// groupTags lists the group tags that exist.
func (s *Server) groupTags(*request) (int, map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tags := make([]any, 0, len(s.cfg.Tags))
	for _, t := range s.cfg.Tags {
		tags = append(tags, map[string]any{"name": t})
	}
	return http.StatusOK, map[string]any{"success": 1, "group_tags": tags}
}
