package explo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// listAnswer is a page of the list in any revision of the docs: total_count
// with results.customers, the older count, next and previous with results
// a list, and the revision that spells every key in camelCase (totalCount,
// providedId, groupTags, accessGroup, hierarchyLevel, …). Keys are brought
// to snake_case before the typed decode, so one [Customer] reads them all.
type listAnswer struct{ listResponse }

// decodeRaw normalises the keys of the page and of each customer, then
// decodes the page. It is not UnmarshalJSON, which encoding/json would
// make scan the page twice more.
func (a *listAnswer) decodeRaw(data []byte) error {
	norm, err := snakePage(data)
	if err != nil {
		return err
	}
	return json.Unmarshal(norm, &a.listResponse)
}

// snakePage rewrites the keys of a page of the list, and of the customers
// in it, in snake_case: the page's own keys, those of results when it is
// an object, and those of each customer of results or results.customers.
// Only those: the keys inside properties and mappings are the user's, and
// stay as they are. data must be valid JSON (see [rawDecoder]). It is one
// pass over the bytes that copies every value
// as it is, and a page that needs no rewriting is returned as it came,
// without a copy. Two spellings of one key in an object are an error
// unless they carry the same value: the page would say two things.
func snakePage(data []byte) ([]byte, error) {
	w := &rewriter{d: data}
	i, err := w.value(w.space(0), levelPage)
	if err != nil {
		return nil, err
	}
	if !w.changed {
		return data, nil
	}
	return append(w.out, data[i:]...), nil
}

// level is where the rewriter is in a page: whose keys it rewrites.
type level int

const (
	levelNone      level = iota // a value copied as it is
	levelPage                   // the page object
	levelResults                // results, when an object
	levelCustomers              // a list of customers
	levelCustomer               // one customer
)

// inner is the level of the value of key in an object at l.
func (l level) inner(key []byte) level {
	switch {
	case l == levelPage && string(key) == "results":
		return levelResults
	case l == levelResults && string(key) == "customers":
		return levelCustomers
	}
	return levelNone
}

// rewriter copies a JSON text (known to be valid) to out, rewriting keys.
// Until the first key that changes, out stays empty: the text so far is
// data's own.
type rewriter struct {
	d, out  []byte
	changed bool
	// keys caches the rewriting of each key: a page repeats the same
	// dozen keys a thousand times.
	keys map[string]snakeKey
}

// snakeKey is a key in snake_case, bare and quoted, or none when the key
// needs no rewriting.
type snakeKey struct{ bare, quoted []byte }

func (w *rewriter) snake(raw []byte) snakeKey {
	if !hasUpper(raw) {
		return snakeKey{}
	}
	if k, ok := w.keys[string(raw)]; ok {
		return k
	}
	var k snakeKey
	if s, ok := snakeBytes(raw); ok {
		k = snakeKey{s, quoteKey(s)}
	}
	if w.keys == nil {
		w.keys = map[string]snakeKey{}
	}
	if len(w.keys) < 1000 {
		w.keys[string(raw)] = k
	}
	return k
}

func (w *rewriter) emit(b ...byte) {
	if w.changed {
		w.out = append(w.out, b...)
	}
}

// change starts the copy: data up to at, as it is.
func (w *rewriter) change(at int) {
	if !w.changed {
		w.out = append(make([]byte, 0, len(w.d)+len(w.d)/8), w.d[:at]...)
		w.changed = true
	}
}

// space copies white space from i on and returns where it ends.
func (w *rewriter) space(i int) int {
	j := i
	for j < len(w.d) && (w.d[j] == ' ' || w.d[j] == '\t' || w.d[j] == '\n' || w.d[j] == '\r') {
		j++
	}
	w.emit(w.d[i:j]...)
	return j
}

// value copies the value at i, at level l, and returns where it ends.
func (w *rewriter) value(i int, l level) (int, error) {
	switch {
	case w.d[i] == '{' && (l == levelPage || l == levelResults):
		return w.object(i, l)
	case w.d[i] == '[' && (l == levelResults || l == levelCustomers):
		return w.array(i)
	}
	j := skipValue(w.d, i)
	w.emit(w.d[i:j]...)
	return j, nil
}

// array copies a list of customers.
func (w *rewriter) array(i int) (int, error) {
	w.emit('[')
	i = w.space(i + 1)
	for w.d[i] != ']' {
		var err error
		if w.d[i] == '{' {
			i, err = w.object(i, levelCustomer)
		} else {
			i, err = w.value(i, levelNone)
		}
		if err != nil {
			return 0, err
		}
		if i = w.space(i); w.d[i] == ',' {
			w.emit(',')
			i = w.space(i + 1)
		}
	}
	w.emit(']')
	return i + 1, nil
}

// object copies an object at level l (never levelNone), rewriting its
// keys.
func (w *rewriter) object(i int, l level) (int, error) {
	type entry struct{ key, val []byte }
	var buf [16]entry
	seen := buf[:0]
	w.emit('{')
	i = w.space(i + 1)
	for w.d[i] != '}' {
		end := skipValue(w.d, i)
		key := w.d[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var k string
			if err := json.Unmarshal(w.d[i:end], &k); err != nil {
				return 0, err
			}
			key = []byte(k)
		}
		if s := w.snake(key); s.bare != nil {
			w.change(i)
			key = s.bare
			w.out = append(w.out, s.quoted...)
		} else {
			w.emit(w.d[i:end]...)
		}
		i = w.space(end)
		w.emit(':')
		i = w.space(i + 1)
		start := i
		var err error
		if i, err = w.value(i, l.inner(key)); err != nil {
			return 0, err
		}
		val := w.d[start:i]
		for _, e := range seen {
			if bytes.Equal(e.key, key) && !bytes.Equal(e.val, val) {
				return 0, fmt.Errorf("the answer gives %q twice, with different values", key)
			}
		}
		seen = append(seen, entry{key, val})
		if i = w.space(i); w.d[i] == ',' {
			w.emit(',')
			i = w.space(i + 1)
		}
	}
	w.emit('}')
	return i + 1, nil
}

// snakeBytes is the snake_case of a key, and whether it differs.
func snakeBytes(key []byte) ([]byte, bool) {
	if !hasUpper(key) {
		return nil, false
	}
	return []byte(snake(string(key))), true
}

func hasUpper(b []byte) bool {
	for _, c := range b {
		if c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}

// first is the first byte of a JSON value, 0 for none.
func first(raw []byte) byte {
	t := bytes.TrimLeft(raw, " \t\r\n")
	if len(t) == 0 {
		return 0
	}
	return t[0]
}

func quoteKey(s []byte) []byte {
	b, _ := json.Marshal(string(s))
	return b
}

// skipValue returns where the valid JSON value at i ends.
func skipValue(d []byte, i int) int {
	switch d[i] {
	case '"':
		j := i + 1
		for j < len(d) && d[j] != '"' {
			if d[j] == '\\' {
				j++
			}
			j++
		}
		return j + 1
	case '{', '[':
		depth, j := 0, i
		for j < len(d) {
			switch d[j] {
			case '"':
				j = skipValue(d, j)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
			j++
		}
		return j
	}
	j := i
	for j < len(d) && !strings.ContainsRune(",}] \t\r\n", rune(d[j])) {
		j++
	}
	return j
}

// snake turns a camelCase key into snake_case: providedId is provided_id,
// isDemoGroup is_demo_group, and a run of capitals is one word (providedID
// is provided_id). A key without an ASCII capital is returned as it is.
func snake(key string) string {
	if !hasUpper([]byte(key)) {
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
