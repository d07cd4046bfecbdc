package lambda

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// env is one execution environment: a bootstrap process and the Runtime
// API server it talks to, on a listener of its own. It runs at most one
// invocation at a time.
type env struct {
	fn  *function
	num int // 1 for the function's first environment, and so on
	out *envOutput

	ready     chan struct{} // closed at the runtime's first /next
	readyOnce sync.Once
	initErr   chan *FunctionError // an /init/error post
	pending   chan *invocation    // handed to the runtime's waiting /next
	polled    chan struct{}       // a /next arrived since the last hand-over
	exited    chan struct{}       // closed once the process has ended

	mu        sync.Mutex
	killed    bool
	cmd       *exec.Cmd
	srv       *http.Server
	startedAt time.Time
	initDur   time.Duration
	current   *invocation // handed out by /next and not yet answered
	exitErr   error
}

func newEnv(f *function, num int) *env {
	return &env{
		fn:      f,
		num:     num,
		out:     newEnvOutput(f.pool.out, fmt.Sprintf("[%s#%d] ", f.cfg.Name, num)),
		ready:   make(chan struct{}),
		initErr: make(chan *FunctionError, 1),
		pending: make(chan *invocation),
		polled:  make(chan struct{}, 1),
		exited:  make(chan struct{}),
	}
}

// start serves the Runtime API on a fresh loopback port and execs the
// bootstrap, in a process group of its own, pointed at it.
func (e *env) start() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.killed {
		return ErrClosed
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the runtime API: %w", err)
	}
	e.srv = &http.Server{Handler: e.runtimeAPI(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.srv.Serve(ln) }()

	cfg := e.fn.cfg
	cmd := exec.Command(cfg.Path)
	cmd.Dir = filepath.Dir(cfg.Path)
	cmd.Env = e.environ(ln.Addr().String())
	cmd.Stdout = e.out.stdout
	cmd.Stderr = e.out.stderr
	cmd.WaitDelay = time.Second // output pipes held by stray children
	setProcessGroup(cmd)
	e.startedAt = time.Now()
	if err := cmd.Start(); err != nil {
		_ = e.srv.Close()
		return fmt.Errorf("exec %s: %w", cfg.Path, err)
	}
	e.cmd = cmd
	go e.wait()
	return nil
}

// environ is the process environment: a minimal base from the host, the
// function's variables, and the variables Lambda reserves, which win.
func (e *env) environ(runtimeAPI string) []string {
	cfg := e.fn.cfg
	opts := e.fn.pool.opts
	vars := map[string]string{
		"PATH": os.Getenv("PATH"),
		"LANG": "en_US.UTF-8",
		"TZ":   ":UTC",
	}
	if tmp := os.Getenv("TMPDIR"); tmp != "" {
		vars["TMPDIR"] = tmp
	}
	for k, v := range cfg.Env {
		vars[k] = v
	}
	reserved := map[string]string{
		"AWS_LAMBDA_RUNTIME_API":          runtimeAPI,
		"AWS_LAMBDA_FUNCTION_NAME":        cfg.Name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": fmt.Sprint(cfg.MemoryMB),
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + cfg.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      logStreamName(time.Now()),
		"AWS_REGION":                      opts.Region,
		"AWS_DEFAULT_REGION":              opts.Region,
		"LAMBDA_TASK_ROOT":                filepath.Dir(cfg.Path),
		"_HANDLER":                        filepath.Base(cfg.Path),
	}
	for k, v := range reserved {
		vars[k] = v
	}
	list := make([]string, 0, len(vars))
	for k, v := range vars {
		list = append(list, k+"="+v)
	}
	sort.Strings(list)
	return list
}

// wait reaps the process, then anything left in its group, and marks the
// environment dead.
func (e *env) wait() {
	err := e.cmd.Wait()
	killProcessGroup(e.cmd.Process.Pid)
	e.out.flush()
	e.mu.Lock()
	e.exitErr = err
	srv := e.srv
	e.mu.Unlock()
	close(e.exited)
	_ = srv.Close()
	e.fn.forget(e)
}

// kill ends the environment: its whole process group gets SIGKILL, and kill
// returns once the process is reaped. Safe to call more than once and
// before start.
func (e *env) kill() {
	e.mu.Lock()
	e.killed = true
	cmd := e.cmd
	e.mu.Unlock()
	if cmd == nil {
		return
	}
	killProcessGroup(cmd.Process.Pid)
	<-e.exited
}

// dead reports whether the environment can no longer run invocations.
func (e *env) dead() bool {
	select {
	case <-e.exited:
		return true
	default:
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.killed
}

// markReady records the end of the init phase at the runtime's first /next.
func (e *env) markReady() {
	e.readyOnce.Do(func() {
		e.mu.Lock()
		e.initDur = time.Since(e.startedAt)
		e.mu.Unlock()
		close(e.ready)
	})
}

// run carries one invocation through the environment: the init phase if
// the environment is cold, the hand-over to the runtime's /next, and the
// wait for its answer under the function's timeout.
func (e *env) run(inv *invocation) result {
	pool := e.fn.pool
	cfg := e.fn.cfg
	initDur, err := e.awaitInit(inv)
	if err != nil {
		return result{err: err}
	}
	start := time.Now()
	inv.deadline = start.Add(cfg.Timeout)
	timer := time.NewTimer(cfg.Timeout)
	defer timer.Stop()
	e.out.platform(fmt.Sprintf("START RequestId: %s Version: $LATEST", inv.id))

	res := e.await(inv, timer.C)
	if fe := (*FunctionError)(nil); errors.As(res.err, &fe) && fe.Type == timeoutErrorType {
		e.out.platform(fmt.Sprintf("%s %s Task timed out after %.2f seconds",
			time.Now().UTC().Format(time.RFC3339Nano), inv.id, cfg.Timeout.Seconds()))
	}
	elapsed := time.Since(start)
	e.out.platform(fmt.Sprintf("END RequestId: %s", inv.id))
	report := fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB",
		inv.id, float64(elapsed.Microseconds())/1000, (elapsed+time.Millisecond-1)/time.Millisecond, cfg.MemoryMB)
	if res.maxMemMB > 0 {
		report += fmt.Sprintf("\tMax Memory Used: %d MB", res.maxMemMB)
	}
	if initDur > 0 {
		report += fmt.Sprintf("\tInit Duration: %.2f ms", float64(initDur.Microseconds())/1000)
	}
	e.out.platform(report)
	select {
	case <-pool.done:
		if res.err != nil {
			res.err = ErrClosed
		}
	default:
	}
	return res
}

// awaitInit waits for a cold environment to finish its init phase and
// returns how long init took (zero for a warm environment).
func (e *env) awaitInit(inv *invocation) (time.Duration, error) {
	select {
	case <-e.ready:
		return 0, nil
	default:
	}
	limit := e.fn.pool.opts.InitTimeout
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-e.ready:
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.initDur, nil
	case fe := <-e.initErr:
		e.kill()
		return 0, fe
	case <-e.exited:
		select {
		case fe := <-e.initErr:
			return 0, fe
		default:
			return 0, e.exitError(inv)
		}
	case <-timer.C:
		e.kill()
		return 0, &FunctionError{Type: timeoutErrorType,
			Message: fmt.Sprintf("RequestId: %s Error: Init timed out after %.2f seconds", inv.id, limit.Seconds())}
	}
}

// await hands the invocation to the runtime and waits for its answer, the
// process's end or the timeout, whichever comes first.
func (e *env) await(inv *invocation, timeout <-chan time.Time) result {
	select {
	case e.pending <- inv:
		select {
		case <-e.polled: // the /next that took inv
		default:
		}
	case <-e.exited:
		return result{err: e.exitError(inv)}
	case <-timeout:
		e.kill()
		return result{err: e.timeoutError(inv)}
	}
	select {
	case res := <-inv.done:
		res.maxMemMB = maxMemoryMB(e.cmd.Process.Pid)
		return res
	case <-e.exited:
		select {
		case res := <-inv.done: // answered, then exited (e.g. after a panic)
			return res
		default:
			return result{err: e.exitError(inv)}
		}
	case <-timeout:
		e.kill()
		return result{err: e.timeoutError(inv)}
	}
}

// settle waits, after an answered invocation, until the runtime asks for
// the next one or its process ends: only then is the environment free, as
// on Lambda. A runtime that does neither by the invocation's deadline is
// killed.
func (e *env) settle(inv *invocation) {
	timer := time.NewTimer(time.Until(inv.deadline))
	defer timer.Stop()
	select {
	case <-e.polled:
	case <-e.exited:
	case <-timer.C:
		e.kill()
	}
}

const timeoutErrorType = "Sandbox.Timedout"

func (e *env) timeoutError(inv *invocation) *FunctionError {
	return &FunctionError{Type: timeoutErrorType,
		Message: fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", inv.id, e.fn.cfg.Timeout.Seconds())}
}

// exitError describes a process that ended without answering.
func (e *env) exitError(inv *invocation) *FunctionError {
	e.mu.Lock()
	err := e.exitErr
	e.mu.Unlock()
	msg := "Runtime exited without providing a reason"
	if err != nil {
		msg = "Runtime exited with error: " + err.Error()
	}
	return &FunctionError{Type: "Runtime.ExitError", Message: fmt.Sprintf("RequestId: %s Error: %s", inv.id, msg)}
}
