// Package samtemplate reads ragchat's SAM template (template.yaml): the
// functions with their Globals merged, the HTTP API routes, the WebSocket
// API's routes, and the DynamoDB tables. The local stack and the tests use
// it so that the template stays the single source of truth.
package samtemplate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Template is a parsed SAM template. Intrinsic functions written in short
// form (!Ref, !GetAtt, !Sub, ...) are turned into their long form
// ({"Ref": ...}, {"Fn::GetAtt": [...]}, {"Fn::Sub": ...}).
type Template struct {
	Parameters map[string]Parameter
	// Conditions holds the Conditions section, evaluated by Condition.
	Conditions map[string]any
	Globals    map[string]any
	Resources  map[string]Resource
	Outputs    map[string]any
	// Params holds the value of each parameter that has one: its default,
	// or whatever a caller set before resolving.
	Params map[string]string
	order  []string
}

// Parameter is an entry of the template's Parameters section.
type Parameter struct {
	Type           string
	Default        string
	HasDefault     bool
	AllowedPattern string
	AllowedValues  []string // as CloudFormation compares them: strings
}

// Resource is an entry of the template's Resources section.
type Resource struct {
	LogicalID      string
	Type           string
	Properties     map[string]any
	Metadata       map[string]any
	DependsOn      []string
	DeletionPolicy string
}

// Load reads and parses the template at path.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return t, nil
}

// Parse parses a template from YAML (or JSON, which is YAML).
func Parse(data []byte) (*Template, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("template is not a mapping")
	}
	doc := root.Content[0]
	top, err := convert(doc)
	if err != nil {
		return nil, err
	}
	m := top.(map[string]any)
	t := &Template{
		Parameters: map[string]Parameter{},
		Conditions: asMap(m["Conditions"]),
		Globals:    asMap(m["Globals"]),
		Resources:  map[string]Resource{},
		Outputs:    asMap(m["Outputs"]),
		Params:     map[string]string{},
	}
	for name, v := range asMap(m["Parameters"]) {
		pm := asMap(v)
		p := Parameter{Type: asString(pm["Type"]), AllowedPattern: asString(pm["AllowedPattern"])}
		for _, v := range asSlice(pm["AllowedValues"]) {
			p.AllowedValues = append(p.AllowedValues, scalar(v))
		}
		if d, ok := pm["Default"]; ok {
			p.Default, p.HasDefault = scalar(d), true
			t.Params[name] = p.Default
		}
		t.Parameters[name] = p
	}
	for _, id := range keysInOrder(doc, "Resources") {
		rm := asMap(asMap(m["Resources"])[id])
		r := Resource{
			LogicalID:      id,
			Type:           asString(rm["Type"]),
			Properties:     asMap(rm["Properties"]),
			Metadata:       asMap(rm["Metadata"]),
			DeletionPolicy: asString(rm["DeletionPolicy"]),
		}
		switch d := rm["DependsOn"].(type) {
		case string:
			r.DependsOn = []string{d}
		case []any:
			for _, x := range d {
				r.DependsOn = append(r.DependsOn, asString(x))
			}
		}
		if r.Type == "" {
			return nil, fmt.Errorf("resource %s has no Type", id)
		}
		t.Resources[id] = r
		t.order = append(t.order, id)
	}
	return t, nil
}

// ResourceOrder returns the logical IDs in the order the template lists them.
func (t *Template) ResourceOrder() []string { return append([]string(nil), t.order...) }

// ResourcesOfType returns the logical IDs of the resources of one type, in
// template order.
func (t *Template) ResourcesOfType(typ string) []string {
	var ids []string
	for _, id := range t.order {
		if t.Resources[id].Type == typ {
			ids = append(ids, id)
		}
	}
	return ids
}

// Function is an AWS::Serverless::Function with the template's Globals merged in.
type Function struct {
	LogicalID     string
	Runtime       string
	Handler       string
	Architectures []string
	Timeout       time.Duration
	MemorySize    int
	// Environment holds the unresolved variable values (strings or
	// intrinsic functions); resolve them with Template.Resolve.
	Environment map[string]any
	Events      map[string]Event
	Policies    []any
	Metadata    map[string]any
}

// Event is one entry of a function's Events.
type Event struct {
	Type       string
	Properties map[string]any
}

// Functions returns every AWS::Serverless::Function, in template order.
// Defaults are Lambda's: 3 s timeout, 128 MB.
func (t *Template) Functions() ([]Function, error) {
	g := asMap(t.Globals["Function"])
	var out []Function
	for _, id := range t.ResourcesOfType("AWS::Serverless::Function") {
		r := t.Resources[id]
		p := func(key string) any {
			if v, ok := r.Properties[key]; ok {
				return v
			}
			return g[key]
		}
		f := Function{
			LogicalID:   id,
			Runtime:     asString(p("Runtime")),
			Handler:     asString(p("Handler")),
			Environment: map[string]any{},
			Events:      map[string]Event{},
			Metadata:    r.Metadata,
			Timeout:     3 * time.Second,
			MemorySize:  128,
		}
		for _, a := range asSlice(p("Architectures")) {
			f.Architectures = append(f.Architectures, asString(a))
		}
		if v := p("Timeout"); v != nil {
			n, err := strconv.Atoi(scalar(v))
			if err != nil {
				return nil, fmt.Errorf("function %s: Timeout %v: %w", id, v, err)
			}
			f.Timeout = time.Duration(n) * time.Second
		}
		if v := p("MemorySize"); v != nil {
			n, err := strconv.Atoi(scalar(v))
			if err != nil {
				return nil, fmt.Errorf("function %s: MemorySize %v: %w", id, v, err)
			}
			f.MemorySize = n
		}
		for _, src := range []map[string]any{g, r.Properties} {
			for k, v := range asMap(asMap(src["Environment"])["Variables"]) {
				f.Environment[k] = v
			}
		}
		for name, e := range asMap(r.Properties["Events"]) {
			em := asMap(e)
			f.Events[name] = Event{Type: asString(em["Type"]), Properties: asMap(em["Properties"])}
		}
		f.Policies = asSlice(r.Properties["Policies"])
		out = append(out, f)
	}
	return out, nil
}

// HTTPRoute is one HttpApi event of a function.
type HTTPRoute struct {
	Function string
	Method   string // upper case, or ANY
	Path     string // with {param} and {proxy+} placeholders
}

// HTTPRoutes returns the routes of the functions' HttpApi events, sorted by
// path and method.
func (t *Template) HTTPRoutes() ([]HTTPRoute, error) {
	fns, err := t.Functions()
	if err != nil {
		return nil, err
	}
	var routes []HTTPRoute
	for _, f := range fns {
		for name, e := range f.Events {
			if e.Type != "HttpApi" {
				continue
			}
			r := HTTPRoute{Function: f.LogicalID, Method: strings.ToUpper(asString(e.Properties["Method"])), Path: asString(e.Properties["Path"])}
			if r.Path == "" || r.Method == "" {
				return nil, fmt.Errorf("function %s event %s: HttpApi event needs Path and Method", f.LogicalID, name)
			}
			routes = append(routes, r)
		}
	}
	sort.Slice(routes, func(i, j int) bool {
		if routes[i].Path != routes[j].Path {
			return routes[i].Path < routes[j].Path
		}
		return routes[i].Method < routes[j].Method
	})
	return routes, nil
}

// WebSocketAPI describes the template's AWS::ApiGatewayV2::Api of protocol
// WEBSOCKET, its stage and its routes.
type WebSocketAPI struct {
	LogicalID                string
	RouteSelectionExpression string
	Stage                    string
	// Routes maps a route key ($connect, sendMessage, ...) to the logical ID
	// of the function its AWS_PROXY integration invokes.
	Routes map[string]string
	// Mocks maps the route key of a route with a MOCK integration to what
	// API Gateway sends the client back: the $default response template of
	// the integration's $default IntegrationResponse when the route has a
	// route response (RouteResponseSelectionExpression and a $default
	// RouteResponse), "" when it sends nothing back. No Lambda runs.
	Mocks map[string]string
}

var subRef = regexp.MustCompile(`\$\{([A-Za-z0-9:._-]+)\}`)

// WebSocket returns the template's one WebSocket API.
func (t *Template) WebSocket() (WebSocketAPI, error) {
	var api WebSocketAPI
	for _, id := range t.ResourcesOfType("AWS::ApiGatewayV2::Api") {
		if asString(t.Resources[id].Properties["ProtocolType"]) == "WEBSOCKET" {
			if api.LogicalID != "" {
				return api, fmt.Errorf("more than one WebSocket API: %s and %s", api.LogicalID, id)
			}
			api.LogicalID = id
			api.RouteSelectionExpression = asString(t.Resources[id].Properties["RouteSelectionExpression"])
		}
	}
	if api.LogicalID == "" {
		return api, fmt.Errorf("no AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET")
	}
	api.Routes, api.Mocks = map[string]string{}, map[string]string{}
	for _, id := range t.ResourcesOfType("AWS::ApiGatewayV2::Route") {
		p := t.Resources[id].Properties
		if refName(p["ApiId"]) != api.LogicalID {
			continue
		}
		target, err := t.Resolve(p["Target"], func(ref string) (string, bool) { return ref, true })
		if err != nil {
			return api, fmt.Errorf("route %s: %w", id, err)
		}
		integ, ok := t.Resources[strings.TrimPrefix(target, "integrations/")]
		if !ok || integ.Type != "AWS::ApiGatewayV2::Integration" {
			return api, fmt.Errorf("route %s: target %q is not an integration of this template", id, target)
		}
		if asString(integ.Properties["IntegrationType"]) == "MOCK" {
			reply, err := t.mockReply(id, integ.LogicalID)
			if err != nil {
				return api, err
			}
			api.Mocks[asString(p["RouteKey"])] = reply
			continue
		}
		fn := integrationFunction(integ.Properties["IntegrationUri"])
		if _, ok := t.Resources[fn]; !ok {
			return api, fmt.Errorf("route %s: integration %s invokes no function of this template", id, integ.LogicalID)
		}
		api.Routes[asString(p["RouteKey"])] = fn
	}
	for _, id := range t.ResourcesOfType("AWS::ApiGatewayV2::Stage") {
		p := t.Resources[id].Properties
		if refName(p["ApiId"]) != api.LogicalID {
			continue
		}
		stage, err := t.Resolve(p["StageName"], t.paramLookup)
		if err != nil {
			return api, fmt.Errorf("stage %s: %w", id, err)
		}
		api.Stage = stage
	}
	if api.Stage == "" {
		return api, fmt.Errorf("WebSocket API %s has no stage", api.LogicalID)
	}
	return api, nil
}

// mockReply is what the route routeID with the MOCK integration integID
// sends back (see WebSocketAPI.Mocks). Templates are served as they are
// written: one holding Velocity ($ or #) is refused, since nothing here
// evaluates it.
func (t *Template) mockReply(routeID, integID string) (string, error) {
	route := t.Resources[routeID].Properties
	hasResponse := false
	for _, id := range t.ResourcesOfType("AWS::ApiGatewayV2::RouteResponse") {
		p := t.Resources[id].Properties
		if refName(p["RouteId"]) == routeID && asString(p["RouteResponseKey"]) == "$default" {
			hasResponse = true
		}
	}
	if !hasResponse || asString(route["RouteResponseSelectionExpression"]) != "$default" {
		return "", nil
	}
	for _, id := range t.ResourcesOfType("AWS::ApiGatewayV2::IntegrationResponse") {
		p := t.Resources[id].Properties
		if refName(p["IntegrationId"]) != integID || asString(p["IntegrationResponseKey"]) != "$default" {
			continue
		}
		body := asString(asMap(p["ResponseTemplates"])["$default"])
		if strings.ContainsAny(body, "$#") {
			return "", fmt.Errorf("integration response %s: the local stack serves static response templates only, not Velocity: %q", id, body)
		}
		return body, nil
	}
	return "", fmt.Errorf("route %s: MOCK integration %s has a route response but no $default IntegrationResponse", routeID, integID)
}

// integrationFunction finds the function named in an IntegrationUri such as
// !Sub "arn:...:functions/${ConnectFunction.Arn}/invocations".
func integrationFunction(uri any) string {
	s := asString(asMap(uri)["Fn::Sub"])
	for _, m := range subRef.FindAllStringSubmatch(s, -1) {
		if name, ok := strings.CutSuffix(m[1], ".Arn"); ok {
			return name
		}
	}
	return ""
}

// KeyElement is one attribute of a key schema.
type KeyElement struct {
	Name string
	Type string // HASH or RANGE
}

// Index is a global secondary index.
type Index struct {
	Name             string
	KeySchema        []KeyElement
	Projection       string // ALL, KEYS_ONLY or INCLUDE
	NonKeyAttributes []string
}

// Table is an AWS::DynamoDB::Table resource.
type Table struct {
	LogicalID    string
	KeySchema    []KeyElement
	Attributes   map[string]string // attribute name -> S, N or B
	GSIs         []Index
	TTLAttribute string // "" when TTL is off
	Retain       bool   // DeletionPolicy Retain
}

// Tables returns the template's DynamoDB tables, in template order.
func (t *Template) Tables() ([]Table, error) {
	var out []Table
	for _, id := range t.ResourcesOfType("AWS::DynamoDB::Table") {
		r := t.Resources[id]
		tb := Table{LogicalID: id, Attributes: map[string]string{}, Retain: r.DeletionPolicy == "Retain"}
		for _, a := range asSlice(r.Properties["AttributeDefinitions"]) {
			am := asMap(a)
			tb.Attributes[asString(am["AttributeName"])] = asString(am["AttributeType"])
		}
		tb.KeySchema = keySchema(r.Properties["KeySchema"])
		for _, g := range asSlice(r.Properties["GlobalSecondaryIndexes"]) {
			gm := asMap(g)
			proj := asMap(gm["Projection"])
			idx := Index{Name: asString(gm["IndexName"]), KeySchema: keySchema(gm["KeySchema"]), Projection: asString(proj["ProjectionType"])}
			for _, a := range asSlice(proj["NonKeyAttributes"]) {
				idx.NonKeyAttributes = append(idx.NonKeyAttributes, asString(a))
			}
			tb.GSIs = append(tb.GSIs, idx)
		}
		if ttl := asMap(r.Properties["TimeToLiveSpecification"]); ttl != nil && scalar(ttl["Enabled"]) == "true" {
			tb.TTLAttribute = asString(ttl["AttributeName"])
		}
		if len(tb.KeySchema) == 0 {
			return nil, fmt.Errorf("table %s has no KeySchema", id)
		}
		for _, k := range tb.KeySchema {
			if tb.Attributes[k.Name] == "" {
				return nil, fmt.Errorf("table %s: key %s has no AttributeDefinition", id, k.Name)
			}
		}
		out = append(out, tb)
	}
	return out, nil
}

// TableVariables returns the Globals environment variables that name a
// table (VAR: !Ref <an AWS::DynamoDB::Table>), as variable -> the table's
// logical ID: the one map from the template's tables to the variables the
// functions read them from.
func (t *Template) TableVariables() map[string]string {
	out := map[string]string{}
	vars := asMap(asMap(asMap(t.Globals["Function"])["Environment"])["Variables"])
	for name, v := range vars {
		if id := refName(v); t.Resources[id].Type == "AWS::DynamoDB::Table" {
			out[name] = id
		}
	}
	return out
}

// TableNames returns a lookup from a table variable to the physical name
// that name gives the table it refers to ("" for other variables), for
// config.TablesFrom.
func (t *Template) TableNames(name func(logicalID string) string) func(variable string) string {
	vars := t.TableVariables()
	return func(variable string) string {
		if id, ok := vars[variable]; ok {
			return name(id)
		}
		return ""
	}
}

func keySchema(v any) []KeyElement {
	var ks []KeyElement
	for _, k := range asSlice(v) {
		km := asMap(k)
		ks = append(ks, KeyElement{Name: asString(km["AttributeName"]), Type: asString(km["KeyType"])})
	}
	return ks
}

// Resolve turns a property value into a string. Plain scalars are returned
// as they are; Ref, Fn::GetAtt ("Name.Attr"), Fn::Sub and Fn::Join are
// resolved through lookup, which is asked for a parameter or logical ID
// (Ref), for "Name.Attr" (GetAtt), or for pseudo parameters like
// "AWS::Region". Other intrinsic functions are an error.
func (t *Template) Resolve(v any, lookup func(ref string) (string, bool)) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case map[string]any:
		if len(x) != 1 {
			return "", fmt.Errorf("cannot resolve a mapping of %d keys", len(x))
		}
		for fn, arg := range x {
			switch fn {
			case "Ref":
				return look(lookup, asString(arg))
			case "Fn::GetAtt":
				parts := asSlice(arg)
				if len(parts) != 2 {
					return "", fmt.Errorf("Fn::GetAtt needs two parts, got %v", arg)
				}
				return look(lookup, asString(parts[0])+"."+asString(parts[1]))
			case "Fn::Sub":
				return t.sub(arg, lookup)
			case "Fn::Join":
				parts := asSlice(arg)
				if len(parts) != 2 {
					return "", fmt.Errorf("Fn::Join needs a separator and a list")
				}
				var items []string
				for _, it := range asSlice(parts[1]) {
					s, err := t.Resolve(it, lookup)
					if err != nil {
						return "", err
					}
					items = append(items, s)
				}
				return strings.Join(items, asString(parts[0])), nil
			default:
				return "", fmt.Errorf("cannot resolve %s", fn)
			}
		}
	case []any:
		return "", fmt.Errorf("cannot resolve a list to a string")
	}
	return scalar(v), nil
}

func (t *Template) sub(arg any, lookup func(string) (string, bool)) (string, error) {
	s, vars := "", map[string]any{}
	switch a := arg.(type) {
	case string:
		s = a
	case []any:
		if len(a) != 2 {
			return "", fmt.Errorf("Fn::Sub list needs a string and a mapping")
		}
		s, vars = asString(a[0]), asMap(a[1])
	}
	var firstErr error
	out := subRef.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		var (
			v   string
			err error
		)
		if val, ok := vars[name]; ok {
			v, err = t.Resolve(val, lookup)
		} else {
			v, err = look(lookup, name)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return v
	})
	if firstErr != nil {
		return "", firstErr
	}
	return strings.ReplaceAll(out, "${!", "${"), nil
}

// paramLookup resolves parameters to their values and nothing else.
func (t *Template) paramLookup(ref string) (string, bool) {
	v, ok := t.Params[ref]
	return v, ok
}

func look(lookup func(string) (string, bool), ref string) (string, error) {
	v, ok := lookup(ref)
	if !ok {
		return "", fmt.Errorf("unresolved reference %q", ref)
	}
	return v, nil
}

// refName returns the target of a {"Ref": X} value, or "".
func refName(v any) string { return asString(asMap(v)["Ref"]) }

// convert turns a YAML node into plain Go values, expanding CloudFormation
// short-form tags.
func convert(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.AliasNode:
		return convert(n.Alias)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := convert(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := convert(c)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		v = l
	default:
		if err := n.Decode(&v); err != nil && !strings.HasPrefix(n.Tag, "!") {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		if strings.HasPrefix(n.Tag, "!") {
			v = n.Value
		}
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return v, nil
	}
	name := strings.TrimPrefix(n.Tag, "!")
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			first, rest, _ := strings.Cut(s, ".")
			return map[string]any{"Fn::GetAtt": []any{first, rest}}, nil
		}
		return map[string]any{"Fn::GetAtt": v}, nil
	default:
		return map[string]any{"Fn::" + name: v}, nil
	}
}

// keysInOrder returns the keys of a top-level section in document order.
func keysInOrder(doc *yaml.Node, section string) []string {
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value != section {
			continue
		}
		var keys []string
		sec := doc.Content[i+1]
		for j := 0; j+1 < len(sec.Content); j += 2 {
			keys = append(keys, sec.Content[j].Value)
		}
		return keys
	}
	return nil
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

// scalar formats a plain YAML scalar as CloudFormation would pass it.
func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// LoadRoot loads the template.yaml of the repository root (FindRoot).
func LoadRoot() (*Template, error) {
	root, err := FindRoot()
	if err != nil {
		return nil, err
	}
	return Load(filepath.Join(root, "template.yaml"))
}

// FindRoot returns the nearest directory upwards from the working directory
// that holds a template.yaml: the repository root.
func FindRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find template.yaml: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "template.yaml")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no template.yaml in the working directory or above it")
		}
		dir = parent
	}
}
