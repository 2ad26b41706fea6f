package explo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"groupsync/internal/canonjson"
	"groupsync/internal/fieldjson"
	"groupsync/reconcile"
)

// Paths of the Customer API, below the base URL.
const (
	PathCreateCustomer = "/api/create_customer/"
	PathUpdateCustomer = "/api/update_customer/"
	PathGetCustomer    = "/api/get_customer/"
	PathDeleteCustomer = "/api/delete_customer/"
	PathRotateToken    = "/api/refresh_customer_token/"
	PathListCustomers  = "/v2/api/customers/"
	ListPageSize       = 1000
)

// Customers is the Customer API: get-or-create, partial update, get,
// list, delete and token rotation.
type Customers struct{ c *Client }

var (
	_ reconcile.API     = (*Customers)(nil)
	_ reconcile.Lister  = (*Customers)(nil)
	_ reconcile.Deleter = (*Customers)(nil)
	_ reconcile.Rotator = (*Customers)(nil)
	_ reconcile.Getter  = (*Customers)(nil)
	_ reconcile.Renamer = (*Customers)(nil)
)

// Customers returns the Customer API of c.
func (c *Client) Customers() *Customers { return &Customers{c: c} }

// NewCustomerBody returns the body of create_customer and update_customer:
// g's managed fields and no others, since an update is partial. An empty
// level or parent is not sent: the service then keeps the root level, or no
// parent.
func NewCustomerBody(g *reconcile.Group) json.RawMessage {
	return customerBody(g.ID, g, false)
}

// customerBody is the body of a create, or of an update of the customer at
// id (which a rename moves to g.ID). An update clears a parent that g
// manages as empty: the customer then has none.
func customerBody(id string, g *reconcile.Group, update bool) json.RawMessage {
	m := []fieldjson.Member{{Key: "provided_id", Raw: canonjson.Quote(id)}}
	if id != g.ID {
		m = append(m, fieldjson.Member{Key: "new_provided_id", Raw: canonjson.Quote(g.ID)})
	}
	m = append(m, fieldjson.Member{Key: "name", Raw: canonjson.Quote(g.Name)})
	m = append(m, fieldjson.Members(g, ^reconcile.Fields(0), true)...)
	if update {
		for _, f := range reconcile.Table {
			if f.Ref && g.Managed.Has(f.Bit) && f.Text(g) == "" {
				m = append(m, fieldjson.Member{Key: f.Name, Raw: "null"})
			}
		}
	}
	return json.RawMessage(fieldjson.Object(m))
}

// Customer is a customer as the service returns it: the keys groupsync
// reads beside the managed fields, and every key as it came, from which
// [applied] reads the managed fields by their answer keys.
type Customer struct {
	Token       string
	Name        string
	ProvidedID  string
	AccessGroup string
	Raw         map[string]json.RawMessage
}

// UnmarshalJSON keeps every key of the customer object.
func (c *Customer) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &c.Raw); err != nil {
		return err
	}
	for key, dst := range map[string]*string{"token": &c.Token, "name": &c.Name, "provided_id": &c.ProvidedID, "access_group": &c.AccessGroup} {
		if v, ok := c.Raw[key]; ok && string(v) != "null" {
			if err := json.Unmarshal(v, dst); err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
		}
	}
	return nil
}

type customerResponse struct {
	Success     Flag      `json:"success"`
	NewCustomer bool      `json:"new_customer"`
	Customer    *Customer `json:"customer"`
}

func (r *customerResponse) ok() bool { return bool(r.Success) }

// CreateGroup calls create_customer.
func (cs *Customers) CreateGroup(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
	return cs.customer(ctx, request{method: http.MethodPost, path: PathCreateCustomer, body: NewCustomerBody(g), id: g.ID})
}

// UpdateGroup calls update_customer with the managed fields.
func (cs *Customers) UpdateGroup(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
	return cs.customer(ctx, request{method: http.MethodPost, path: PathUpdateCustomer, body: customerBody(g.ID, g, true), id: g.ID})
}

// RenameGroup calls update_customer with new_provided_id: the customer at
// from gets g's id (keeping its token; its children follow) and g's
// managed fields.
func (cs *Customers) RenameGroup(ctx context.Context, from string, g *reconcile.Group) (reconcile.Remote, error) {
	return cs.customer(ctx, request{method: http.MethodPost, path: PathUpdateCustomer, body: customerBody(from, g, true), id: g.ID})
}

// RotateToken calls refresh_customer_token.
func (cs *Customers) RotateToken(ctx context.Context, id, token string) (reconcile.Remote, error) {
	body := map[string]string{"current_token": token}
	return cs.customer(ctx, request{method: http.MethodPost, path: PathRotateToken, body: body, id: id, secrets: []string{token}})
}

// DeleteGroup calls delete_customer, which, depending on the revision of
// the service, also deletes every customer below it or refuses while there
// are any: that refusal is an error wrapping [reconcile.ErrHasChildren].
func (cs *Customers) DeleteGroup(ctx context.Context, id, token string) (reconcile.Remote, error) {
	var r customerResponse
	body := map[string]string{"current_token": token}
	code, err := cs.c.do(ctx, request{method: http.MethodDelete, path: PathDeleteCustomer, body: body, id: id, secrets: []string{token}}, &r)
	return reconcile.Remote{Code: code}, hasChildren(err)
}

// GetGroup calls get_customer and returns the customer as the service
// holds it, with its current token. A customer that does not exist is an
// error wrapping [reconcile.ErrNotFound]; an answer about another customer
// is an error.
func (cs *Customers) GetGroup(ctx context.Context, id string) (*reconcile.Applied, error) {
	var r customerResponse
	code, err := cs.c.do(ctx, request{method: http.MethodPost, path: PathGetCustomer, body: map[string]string{"provided_id": id}, id: id}, &r)
	if err != nil {
		return nil, notFound(err)
	}
	if r.Customer == nil {
		return nil, &Error{Status: code, GroupID: id, Message: "the answer has no customer"}
	}
	if r.Customer.ProvidedID != id {
		return nil, &Error{Status: code, GroupID: id, Message: "the answer is about another customer, " + quote(r.Customer.ProvidedID)}
	}
	cs.c.secrets.Add(r.Customer.Token)
	return applied(r.Customer)
}

func (cs *Customers) customer(ctx context.Context, req request) (reconcile.Remote, error) {
	var r customerResponse
	code, err := cs.c.do(ctx, req, &r)
	if err != nil {
		return reconcile.Remote{}, err
	}
	if r.Customer == nil {
		return reconcile.Remote{}, &Error{Status: code, GroupID: req.id, Message: "the answer has no customer"}
	}
	c := r.Customer
	cs.c.secrets.Add(c.Token)
	rem := reconcile.Remote{ID: c.ProvidedID, New: r.NewCustomer, Token: c.Token, EnvTag: c.AccessGroup, Code: code}
	if req.path == PathCreateCustomer {
		rem.Found = found(c)
	}
	return rem, nil
}

// found is the customer a create answered with, as a list reports it, so
// that an adopting create can tell whether an update is needed. An answer
// that leaves out a field it should carry shows nothing: the update
// follows then, as it always did.
func found(c *Customer) *reconcile.Applied {
	for _, f := range reconcile.Table {
		if v, ok := c.Raw[f.Answer]; f.Answer != "" && !f.AnswerOptional && (!ok || string(v) == "null") {
			return nil
		}
	}
	a, err := applied(c)
	if err != nil {
		return nil
	}
	return a
}

// listResponse accepts both documented shapes of the list: total_count
// with results.customers, and an older count, next and previous; a
// [listAnswer] brings the camelCase revision to these keys.
type listResponse struct {
	Success    *Flag           `json:"success"`
	TotalCount *int            `json:"total_count"`
	Count      *int            `json:"count"`
	Next       *string         `json:"next"`
	Results    json.RawMessage `json:"results"`
	size       int
}

func (r *listResponse) ok() bool { return r.Success == nil || bool(*r.Success) }

func (r *listResponse) setSize(n int) { r.size = n }

func (r *listResponse) customers() ([]Customer, error) {
	var list []Customer
	if len(r.Results) > 0 && r.Results[0] == '[' {
		return list, json.Unmarshal(r.Results, &list)
	}
	var wrapped struct {
		Customers []Customer `json:"customers"`
	}
	err := json.Unmarshal(r.Results, &wrapped)
	return wrapped.Customers, err
}

// ListGroups reads one page of the customers the token can see. It asks
// for pages of 1,000 under both spellings of the parameter, and decides
// whether another page follows from the page's length and the total,
// never from next alone: a service that keeps pointing further must not
// keep a run going.
func (cs *Customers) ListGroups(ctx context.Context, q reconcile.ListQuery) (reconcile.ListPage, error) {
	size := strconv.Itoa(ListPageSize)
	v := url.Values{"page": {strconv.Itoa(max(q.Page, 1))}, "page_size": {size}, "pageSize": {size}}
	if q.Parent != "" {
		v.Set("parent_provided_id", q.Parent)
	}
	var r listAnswer
	code, err := cs.c.do(ctx, request{method: http.MethodGet, path: PathListCustomers, query: v}, &r)
	page := reconcile.ListPage{Code: code, Bytes: r.size}
	if err != nil {
		return page, err
	}
	list, err := r.customers()
	if err != nil {
		return page, &Error{Status: code, Kind: reconcile.ErrNotAPI, Message: "the list is not the documented JSON"}
	}
	tokens := make([]string, len(list))
	for i := range list {
		tokens[i] = list[i].Token
	}
	cs.c.secrets.Add(tokens...)
	for i := range list {
		a, err := applied(&list[i])
		if err != nil {
			return page, &Error{Status: code, GroupID: list[i].ProvidedID, Message: err.Error()}
		}
		page.Groups = append(page.Groups, *a)
	}
	total := r.TotalCount
	if total == nil {
		total = r.Count
	}
	full := len(list) >= ListPageSize
	switch {
	case total != nil:
		page.More = full && max(q.Page, 1)*ListPageSize < *total
	case r.Next != nil || r.Count != nil:
		page.More = full && r.Next != nil
	default:
		page.More = full
	}
	return page, nil
}

// applied converts a customer of the service into reconcile's record of
// it, with the fields the service reports (not its parent, which it does
// not show).
func applied(c *Customer) (*reconcile.Applied, error) {
	a := &reconcile.Applied{Token: c.Token, EnvTag: c.AccessGroup}
	a.ID, a.Name = c.ProvidedID, c.Name
	for _, f := range reconcile.Table {
		if f.Answer == "" {
			continue
		}
		raw, ok := c.Raw[f.Answer]
		switch {
		case !ok && f.AnswerOptional:
			continue // not shown: not known
		case !ok:
			raw = json.RawMessage("null")
		}
		if err := fieldjson.Set(f, &a.Group, string(raw), nil); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Answer, err)
		}
	}
	return a, nil
}
