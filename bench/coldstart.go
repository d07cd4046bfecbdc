package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// ColdConfig is the cold-start experiment: Reps execs per function and
// secret mode; Arm64 builds the functions for arm64 as `sam build` does
// (otherwise sizes are those of the host builds).
type ColdConfig struct {
	Reps  int
	Arm64 bool
}

// Secret modes of a cold start.
const (
	SecretEnv = "TOKEN_SECRET"
	SecretARN = "TOKEN_SECRET_ARN"
)

// ColdFunction is the cold start of one function.
type ColdFunction struct {
	Name      string
	SizeBytes int64
	SizeArch  string
	// ExecToNext holds the times from exec to the first Runtime API next
	// request, per secret mode, in ms.
	ExecToNext map[string][]float64
	// FetchesSecret is true when the function called Secrets Manager in
	// TOKEN_SECRET_ARN mode.
	FetchesSecret bool
	// InitMs is the sum of the package initialisers' clock time
	// (GODEBUG=inittrace=1), median over runs; TopInit the slowest ones.
	InitMs  float64
	TopInit []string
}

// ProbeSteps is the init probe's report (bench/cmd/initprobe), plus the
// exec and next times the bench measured around it.
type ProbeSteps struct {
	MainUnixNano int64   `json:"mainUnixNano"`
	ConfigMs     float64 `json:"configMs"`
	AWSMs        float64 `json:"awsMs"`
	SecretMs     float64 `json:"secretMs"`
	ClientMs     float64 `json:"clientMs"`
	DoneUnixNano int64   `json:"doneUnixNano"`
	execAt       time.Time
	nextAt       time.Time
}

// ColdResult is the cold-start experiment's outcome.
type ColdResult struct {
	Config    ColdConfig
	Functions []ColdFunction
	Probe     map[string][]ProbeSteps // per secret mode
}

// coldFunctions are the template's functions, in template order.
var coldFunctions = []string{"LoginFunction", "ChatbotFunction", "ConnectFunction", "DisconnectFunction", "MessageFunction"}

// RunColdStart measures every function's bootstrap: size, exec to first
// next, package init, and the init probe's steps.
func RunColdStart(ctx context.Context, env *Env, cfg ColdConfig, log io.Writer) (*ColdResult, error) {
	sm := &fakeSecrets{secret: strings.Repeat("k", 64)}
	smURL, err := env.serve(sm)
	if err != nil {
		return nil, err
	}
	res := &ColdResult{Config: cfg, Probe: map[string][]ProbeSteps{}}
	bins := map[string]string{}
	for _, fn := range coldFunctions {
		cf := ColdFunction{Name: fn, ExecToNext: map[string][]float64{}}
		if bins[fn], err = env.HostBootstrap(fn); err != nil {
			return nil, err
		}
		if cf.SizeBytes, cf.SizeArch, err = bootstrapSize(ctx, env, fn, bins[fn], cfg.Arm64, log); err != nil {
			return nil, err
		}
		res.Functions = append(res.Functions, cf)
	}
	probe := filepath.Join(env.Work, "host", "initprobe", "bootstrap")
	if err := goBuild(ctx, env.Root, "./bench/cmd/initprobe", probe, ""); err != nil {
		return nil, err
	}

	// Round robin over functions and modes, so that the load of this shared
	// machine at any moment weighs on every function alike.
	for range cfg.Reps {
		for i := range res.Functions {
			cf := &res.Functions[i]
			base := env.Stack.FunctionEnv(cf.Name)
			mem := env.Template[cf.Name].MemorySize
			for _, mode := range []string{SecretEnv, SecretARN} {
				before := sm.calls.Load()
				r, err := coldExec(ctx, bins[cf.Name], cf.Name, mem, secretMode(base, mode, smURL), nil)
				if err != nil {
					return nil, fmt.Errorf("cold start %s (%s): %w", cf.Name, mode, err)
				}
				cf.ExecToNext[mode] = append(cf.ExecToNext[mode], ms(r.next.Sub(r.exec)))
				if mode == SecretARN && sm.calls.Load() > before {
					cf.FetchesSecret = true
				}
			}
		}
		base := env.Stack.FunctionEnv("LoginFunction")
		for _, mode := range []string{SecretEnv, SecretARN} {
			var steps ProbeSteps
			r, err := coldExec(ctx, probe, "LoginFunction", env.Template["LoginFunction"].MemorySize, secretMode(base, mode, smURL), &steps)
			if err != nil {
				return nil, fmt.Errorf("init probe (%s): %w", mode, err)
			}
			steps.execAt, steps.nextAt = r.exec, r.next
			res.Probe[mode] = append(res.Probe[mode], steps)
		}
	}

	// Package initialisers, traced in separate runs (tracing slows them).
	perFn := map[string]map[string][]float64{}
	sums := map[string][]float64{}
	for range max(cfg.Reps/4, 3) {
		for _, cf := range res.Functions {
			vars := append(secretMode(env.Stack.FunctionEnv(cf.Name), SecretEnv, smURL), "GODEBUG=inittrace=1")
			r, err := coldExec(ctx, bins[cf.Name], cf.Name, env.Template[cf.Name].MemorySize, vars, nil)
			if err != nil {
				return nil, fmt.Errorf("init trace %s: %w", cf.Name, err)
			}
			total, pkgs := parseInitTrace(r.stderr)
			sums[cf.Name] = append(sums[cf.Name], total)
			if perFn[cf.Name] == nil {
				perFn[cf.Name] = map[string][]float64{}
			}
			for p, v := range pkgs {
				perFn[cf.Name][p] = append(perFn[cf.Name][p], v)
			}
		}
	}
	for i := range res.Functions {
		cf := &res.Functions[i]
		cf.InitMs = Median(sums[cf.Name])
		cf.TopInit = topInit(perFn[cf.Name], 3)
		fmt.Fprintf(log, "  cold start %-18s exec->next median %.1f ms\n", cf.Name, Median(cf.ExecToNext[SecretEnv]))
	}
	return res, nil
}

// bootstrapSize returns the size of a function's bootstrap: built for
// arm64 through its Makefile target as `sam build` does, or the host
// build's.
func bootstrapSize(ctx context.Context, env *Env, fn, hostBin string, arm64 bool, log io.Writer) (int64, string, error) {
	path, arch := hostBin, runtime.GOARCH+" (host)"
	if arm64 {
		dir := filepath.Join(env.Work, "arm64", fn)
		start := time.Now()
		cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "build-"+fn, "GOOS=linux", "GOARCH=arm64", "ARTIFACTS_DIR="+dir)
		cmd.Dir = env.Root
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, "", fmt.Errorf("make build-%s GOARCH=arm64: %w\n%s", fn, err, out)
		}
		fmt.Fprintf(log, "  built %s for arm64 in %.1f s\n", fn, time.Since(start).Seconds())
		path, arch = filepath.Join(dir, "bootstrap"), "arm64"
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, "", fmt.Errorf("size of %s: %w", fn, err)
	}
	return st.Size(), arch, nil
}

// secretMode returns the process environment of a function for a secret
// mode: TOKEN_SECRET as the stack sets it, or TOKEN_SECRET_ARN (the
// template's) read from the fake Secrets Manager at smURL.
func secretMode(fnEnv map[string]string, mode, smURL string) []string {
	vars := map[string]string{}
	for k, v := range fnEnv {
		vars[k] = v
	}
	if mode == SecretARN {
		delete(vars, "TOKEN_SECRET")
		if vars["TOKEN_SECRET_ARN"] == "" {
			vars["TOKEN_SECRET_ARN"] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:TokenSecret"
		}
		vars["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = smURL
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// coldRun is one exec of a bootstrap up to its first next request.
type coldRun struct {
	exec, next time.Time
	stderr     []byte
}

// coldExec starts bin as a Lambda environment would (the variables Lambda
// sets, pointed at a one-shot Runtime API), waits for its first next
// request, and kills it. When probe is set, the first stdout line is
// decoded into it.
func coldExec(ctx context.Context, bin, fn string, memoryMB int, fnEnv []string, probe *ProbeSteps) (coldRun, error) {
	var r coldRun
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return r, fmt.Errorf("runtime API: %w", err)
	}
	next := make(chan time.Time, 1)
	initErr := make(chan string, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, req *http.Request) {
		select {
		case next <- time.Now():
		default:
		}
		<-req.Context().Done()
	})
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(req.Body, 4096))
		initErr <- string(b)
		w.WriteHeader(http.StatusAccepted)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	cmd := exec.Command(bin)
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"), "LANG=en_US.UTF-8", "TZ=:UTC",
		"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(),
		"AWS_LAMBDA_FUNCTION_NAME=" + fn,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(memoryMB),
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + fn,
		"AWS_LAMBDA_LOG_STREAM_NAME=bench",
		"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
		"LAMBDA_TASK_ROOT=" + filepath.Dir(bin),
		"_HANDLER=bootstrap",
	}, fnEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r.exec = time.Now()
	if err := cmd.Start(); err != nil {
		return r, fmt.Errorf("exec %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	kill := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case r.next = <-next:
		kill()
	case msg := <-initErr:
		kill()
		return r, fmt.Errorf("init error: %s (stderr: %s)", msg, lastLines(stderr.Bytes()))
	case err := <-exited:
		return r, fmt.Errorf("exited before next: %v (stderr: %s)", err, lastLines(stderr.Bytes()))
	case <-timer.C:
		kill()
		return r, errors.New("no next request within 10 s")
	case <-ctx.Done():
		kill()
		return r, ctx.Err()
	}
	r.stderr = stderr.Bytes()
	if probe != nil {
		line, _, _ := bufio.NewReader(&stdout).ReadLine()
		if err := json.Unmarshal(line, probe); err != nil {
			return r, fmt.Errorf("probe report %q: %w", line, err)
		}
	}
	return r, nil
}

func lastLines(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-3):], " | ")
}

// initLine is a GODEBUG=inittrace=1 line: "init pkg @0.1 ms, 0.2 ms clock, ...".
var initLine = regexp.MustCompile(`^init (\S+) @[0-9.]+ ms, ([0-9.]+) ms clock`)

// parseInitTrace sums the clock time of the package initialisers.
func parseInitTrace(stderr []byte) (float64, map[string]float64) {
	total := 0.0
	pkgs := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(stderr))
	for sc.Scan() {
		m := initLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, _ := strconv.ParseFloat(m[2], 64)
		total += v
		pkgs[m[1]] += v
	}
	return total, pkgs
}

// topInit names the n packages with the largest median init time.
func topInit(perPkg map[string][]float64, n int) []string {
	type pkg struct {
		name string
		ms   float64
	}
	var all []pkg
	for name, v := range perPkg {
		all = append(all, pkg{name, Median(v)})
	}
	slices.SortFunc(all, func(a, b pkg) int {
		switch {
		case a.ms > b.ms:
			return -1
		case a.ms < b.ms:
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	var out []string
	for _, p := range all[:min(n, len(all))] {
		out = append(out, fmt.Sprintf("%s %.2f", p.name, p.ms))
	}
	return out
}

// fakeSecrets answers Secrets Manager's GetSecretValue with one secret
// for any id, and counts the calls.
type fakeSecrets struct {
	secret string
	calls  atomic.Int64
}

func (f *fakeSecrets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in struct {
		SecretID string `json:"SecretId"`
	}
	if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || json.NewDecoder(r.Body).Decode(&in) != nil {
		w.Header().Set("X-Amzn-ErrorType", "InvalidRequestException")
		http.Error(w, `{"__type":"InvalidRequestException","message":"unsupported"}`, http.StatusBadRequest)
		return
	}
	f.calls.Add(1)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"ARN": in.SecretID, "Name": "TokenSecret", "SecretString": f.secret,
		"VersionId": "bench", "VersionStages": []string{"AWSCURRENT"}, "CreatedDate": 1.7e9,
	})
}

// Tables renders the cold-start tables: per function, and the probe's
// itemised init.
func (r *ColdResult) Tables() (*Table, *Table) {
	const sizeTarget = 10 << 20
	const timeTarget = 20.0
	fns := &Table{Header: []string{"function", "bootstrap size", "size target", "exec→next p50 ms (TOKEN_SECRET)", "p90",
		"target", "exec→next p50 ms (TOKEN_SECRET_ARN)", "calls Secrets Manager", "package init ms", "slowest package inits (ms)"}}
	for _, f := range r.Functions {
		env, arn := f.ExecToNext[SecretEnv], f.ExecToNext[SecretARN]
		fns.Add(f.Name,
			fmt.Sprintf("%.2f MiB (%s B, %s)", float64(f.SizeBytes)/(1<<20), strconv.FormatInt(f.SizeBytes, 10), f.SizeArch),
			fmt.Sprintf("<= 10 MiB %s", mark(f.SizeBytes <= sizeTarget)),
			f1(Median(env)), f1(Percentile(env, 90)),
			fmt.Sprintf("<= 20 ms %s", mark(Median(env) <= timeTarget)),
			fmt.Sprintf("%s %s", f1(Median(arn)), mark(Median(arn) <= timeTarget)),
			map[bool]string{true: "yes", false: "no"}[f.FetchesSecret],
			f1(f.InitMs), strings.Join(f.TopInit, ", "))
	}
	steps := &Table{Header: []string{"init step (login's init, probe)", "p50 ms, TOKEN_SECRET", "p50 ms, TOKEN_SECRET_ARN (local fake)"}}
	col := func(mode string, f func(ProbeSteps) float64) string {
		var xs []float64
		for _, s := range r.Probe[mode] {
			xs = append(xs, f(s))
		}
		return fmt.Sprintf("%.2f", Median(xs))
	}
	rows := []struct {
		name string
		f    func(ProbeSteps) float64
	}{
		{"exec → main (process start, Go runtime, package init)", func(s ProbeSteps) float64 {
			return float64(s.MainUnixNano-s.execAt.UnixNano()) / 1e6
		}},
		{"boot.Init: config.Load + JSON logger", func(s ProbeSteps) float64 { return s.ConfigMs }},
		{"boot.Init: config.AWS (SDK LoadDefaultConfig)", func(s ProbeSteps) float64 { return s.AWSMs }},
		{"boot.Init: DynamoDB client + store", func(s ProbeSteps) float64 { return s.ClientMs }},
		{"secret.Token (env, or GetSecretValue)", func(s ProbeSteps) float64 { return s.SecretMs }},
		{"lambda.Start → first next", func(s ProbeSteps) float64 {
			return float64(s.nextAt.UnixNano()-s.DoneUnixNano) / 1e6
		}},
		{"**total exec → next**", func(s ProbeSteps) float64 { return ms(s.nextAt.Sub(s.execAt)) }},
	}
	for _, row := range rows {
		steps.Add(row.name, col(SecretEnv, row.f), col(SecretARN, row.f))
	}
	return fns, steps
}
