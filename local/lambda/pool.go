// Package lambda runs Lambda functions locally the way the Lambda service
// does: every execution environment is one real `bootstrap` process that
// speaks the documented Lambda Runtime API
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) to a
// server of this package. A Pool keeps warm environments per function,
// starts new ones on demand, enforces the function's timeout by killing and
// replacing the environment, and replaces environments whose process dies.
package lambda

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"
)

// Defaults applied by NewPool to zero fields.
const (
	DefaultMaxEnvironments = 10
	DefaultTimeout         = 3 * time.Second // Lambda's default function timeout
	DefaultMemoryMB        = 128
	DefaultInitTimeout     = 10 * time.Second // Lambda's limit for the init phase
	DefaultRegion          = "us-east-1"
	DefaultAccountID       = "123456789012"
	MaxResponseBytes       = 6 * 1024 * 1024 // synchronous invocation response limit
)

// ErrClosed is returned by Invoke once Close has been called.
var ErrClosed = errors.New("lambda pool closed")

// Function is one Lambda function the pool can run.
type Function struct {
	Name     string            // function name (the template's logical ID)
	Path     string            // the bootstrap executable
	Env      map[string]string // the function's resolved environment variables
	Timeout  time.Duration     // per invocation; DefaultTimeout when zero
	MemoryMB int               // reported to the function; DefaultMemoryMB when zero
}

// Options configure a Pool. Zero values select the defaults.
type Options struct {
	// MaxEnvironments caps the environments of one function; an Invoke that
	// finds all of them busy waits for one to become free.
	MaxEnvironments int
	// InitTimeout bounds the time from exec to the runtime's first request
	// for an invocation.
	InitTimeout time.Duration
	// Output receives every environment's stdout and stderr, line by line,
	// each line prefixed with the function name, plus Lambda's START, END
	// and REPORT lines. Nil discards them.
	Output    io.Writer
	Region    string
	AccountID string
}

// FunctionError is the error of an invocation that reached the function and
// failed there, as Lambda reports it: an error the handler returned or
// posted (Type is then the handler's error type), a panic, an init error,
// a crash (Type "Runtime.ExitError") or a timeout (Type "Sandbox.Timedout").
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

// Error implements error.
func (e *FunctionError) Error() string {
	return fmt.Sprintf("function error %s: %s", e.Type, e.Message)
}

// Pool runs invocations in per-function execution environments. It is safe
// for concurrent use.
type Pool struct {
	opts  Options
	out   *syncWriter
	funcs map[string]*function

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup
	done     chan struct{} // closed by Close
}

// NewPool returns a pool for the given functions. No process is started
// before the first invocation of a function (a cold start).
func NewPool(fns []Function, opts Options) (*Pool, error) {
	if opts.MaxEnvironments <= 0 {
		opts.MaxEnvironments = DefaultMaxEnvironments
	}
	if opts.InitTimeout <= 0 {
		opts.InitTimeout = DefaultInitTimeout
	}
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.AccountID == "" {
		opts.AccountID = DefaultAccountID
	}
	if opts.Output == nil {
		opts.Output = io.Discard
	}
	p := &Pool{
		opts:  opts,
		out:   &syncWriter{w: opts.Output},
		funcs: make(map[string]*function, len(fns)),
		done:  make(chan struct{}),
	}
	for _, fn := range fns {
		if fn.Name == "" || fn.Path == "" {
			return nil, fmt.Errorf("function %q: name and path are required", fn.Name)
		}
		if _, dup := p.funcs[fn.Name]; dup {
			return nil, fmt.Errorf("function %q: defined twice", fn.Name)
		}
		if fn.Timeout <= 0 {
			fn.Timeout = DefaultTimeout
		}
		if fn.MemoryMB <= 0 {
			fn.MemoryMB = DefaultMemoryMB
		}
		p.funcs[fn.Name] = &function{pool: p, cfg: fn}
	}
	return p, nil
}

// Functions returns the names of the pool's functions, sorted.
func (p *Pool) Functions() []string {
	names := make([]string, 0, len(p.funcs))
	for n := range p.funcs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Invoke runs one synchronous invocation of the named function with the
// given event and returns the function's response. A failure inside the
// function (returned error, panic, init error, crash, timeout) is a
// *FunctionError. When ctx ends before the response, Invoke returns
// ctx.Err() at once while the invocation runs on in its environment, as an
// invocation does on Lambda when its caller gives up.
func (p *Pool) Invoke(ctx context.Context, name string, payload []byte) ([]byte, error) {
	f, ok := p.funcs[name]
	if !ok {
		return nil, fmt.Errorf("invoke %s: no such function", name)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	p.inflight.Add(1)
	p.mu.Unlock()

	e, err := f.acquire(ctx)
	if err != nil {
		p.inflight.Done()
		return nil, fmt.Errorf("invoke %s: %w", name, err)
	}
	inv := newInvocation(payload)
	go func() {
		defer p.inflight.Done()
		res := e.run(inv)
		if !e.dead() {
			e.settle(inv)
		}
		f.release(e) // before the answer goes out, so that the next call finds e warm
		inv.result <- res
	}()
	select {
	case res := <-inv.result:
		return res.payload, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("invoke %s: %w", name, ctx.Err())
	}
}

// Close kills every environment and waits for their processes and for the
// invocations in flight to end. Invocations still running fail.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()

	var envs []*env
	for _, f := range p.funcs {
		envs = append(envs, f.closeAll()...)
	}
	for _, e := range envs {
		e.kill()
	}
	p.inflight.Wait()
	return nil
}

// function is the pool's state for one function: its environments.
type function struct {
	pool *Pool
	cfg  Function

	mu      sync.Mutex
	live    int           // slots taken: environments starting, busy or idle
	all     map[*env]bool // every environment not yet known dead, for Close
	idle    []*env        // free environments, most recently used last
	started int           // environments ever started, numbers them
	waiters []chan grant  // invocations waiting for a free environment
	closed  bool
}

// grant hands a waiting invocation a free environment, or, when env and err
// are nil, a slot in which to start a new one.
type grant struct {
	env *env
	err error
}

// acquire returns an environment reserved for one invocation: a free warm
// one, a newly started one, or the first one that becomes free.
func (f *function) acquire(ctx context.Context) (*env, error) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, ErrClosed
	}
	for n := len(f.idle); n > 0; n = len(f.idle) {
		e := f.idle[n-1]
		f.idle = f.idle[:n-1]
		if !e.dead() {
			f.mu.Unlock()
			return e, nil
		}
		delete(f.all, e) // died idle before its exit was handled
		f.live--
	}
	if f.live < f.pool.opts.MaxEnvironments {
		f.live++
		f.mu.Unlock()
		return f.start()
	}
	ch := make(chan grant, 1)
	f.waiters = append(f.waiters, ch)
	f.mu.Unlock()

	select {
	case g := <-ch:
		switch {
		case g.err != nil:
			return nil, g.err
		case g.env != nil:
			return g.env, nil
		default:
			return f.start()
		}
	case <-ctx.Done():
		f.mu.Lock()
		for i, w := range f.waiters {
			if w == ch {
				f.waiters = append(f.waiters[:i], f.waiters[i+1:]...)
				f.mu.Unlock()
				return nil, ctx.Err()
			}
		}
		f.mu.Unlock()
		// A grant was sent meanwhile: hand it on.
		g := <-ch
		switch {
		case g.env != nil:
			f.release(g.env)
		case g.err == nil:
			f.freeSlot()
		}
		return nil, ctx.Err()
	}
}

// start starts a new environment in a slot the caller holds; on failure
// the slot is freed.
func (f *function) start() (*env, error) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, ErrClosed
	}
	f.started++
	e := newEnv(f, f.started)
	if f.all == nil {
		f.all = make(map[*env]bool)
	}
	f.all[e] = true
	f.mu.Unlock()

	if err := e.start(); err != nil {
		f.drop(e)
		return nil, fmt.Errorf("start environment: %w", err)
	}
	return e, nil
}

// drop forgets an environment that is gone and frees its slot.
func (f *function) drop(e *env) {
	f.mu.Lock()
	delete(f.all, e)
	f.mu.Unlock()
	f.freeSlot()
}

// freeSlot gives a slot to the first waiter, or frees it.
func (f *function) freeSlot() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.handOff(grant{}) {
		return
	}
	f.live--
}

// release returns an environment after an invocation: to the first waiter
// or to the idle list. A dead environment frees its slot instead.
func (f *function) release(e *env) {
	if e.dead() {
		f.drop(e)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.handOff(grant{env: e}) {
		return
	}
	f.idle = append(f.idle, e)
}

// handOff sends g to the first waiter, if there is one, and reports whether
// there was. The caller holds f.mu.
func (f *function) handOff(g grant) bool {
	if len(f.waiters) == 0 {
		return false
	}
	w := f.waiters[0]
	f.waiters = f.waiters[1:]
	w <- g
	return true
}

// forget drops an environment whose process ended while it was idle; a
// busy one is dropped by release when its invocation ends.
func (f *function) forget(e *env) {
	f.mu.Lock()
	for i, x := range f.idle {
		if x == e {
			f.idle = append(f.idle[:i], f.idle[i+1:]...)
			delete(f.all, e)
			f.mu.Unlock()
			f.freeSlot()
			return
		}
	}
	f.mu.Unlock()
}

// closeAll marks the function closed, fails the waiters and returns every
// environment for killing.
func (f *function) closeAll() []*env {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for _, w := range f.waiters {
		w <- grant{err: ErrClosed}
	}
	f.waiters = nil
	f.idle = nil
	envs := make([]*env, 0, len(f.all))
	for e := range f.all {
		envs = append(envs, e)
	}
	return envs
}
