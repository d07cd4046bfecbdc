// Package procfs reads what the bench and the soak test measure of this
// process and its children from Linux's /proc: resident memory, CPU time
// and the child processes (the functions' bootstrap processes).
//
// Pid 0 names this process. Every function fails (or, for Children,
// returns an error) on systems without /proc.
package procfs

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// path is /proc/<pid>/<file>, /proc/self/<file> for pid 0.
func path(pid int, file string) string {
	if pid == 0 {
		return "/proc/self/" + file
	}
	return fmt.Sprintf("/proc/%d/%s", pid, file)
}

// afterComm returns the fields of a /proc/<pid>/stat line after the
// command name (field 2), which is in parentheses and may hold spaces and
// parentheses: the first returned is the state (field 3).
func afterComm(stat []byte) []string {
	return strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
}

// StatusKB returns a "kB" field of /proc/<pid>/status (VmHWM: peak
// resident memory, VmRSS: current).
func StatusKB(pid int, field string) (int, error) {
	p := path(pid, "status")
	data, err := os.ReadFile(p)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", p, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == field+":" {
			kb, err := strconv.Atoi(fields[1])
			if err != nil {
				return 0, fmt.Errorf("%s %s: %w", p, field, err)
			}
			return kb, nil
		}
	}
	return 0, fmt.Errorf("%s: no %s", p, field)
}

// ResetPeakRSS resets this process's VmHWM to its current resident size
// (Linux >= 4.0), so that a later VmHWM is the peak of what ran since.
func ResetPeakRSS() error {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("reset peak RSS: %w", err)
	}
	return nil
}

// Children returns the pids of this process's live children whose
// executable path ends in suffix ("" for every child).
func Children(suffix string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list /proc: %w", err)
	}
	self := os.Getpid()
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		fields := afterComm(stat)
		if len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid != self {
			continue
		}
		if suffix != "" {
			exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
			if err != nil || !strings.HasSuffix(exe, suffix) {
				continue
			}
		}
		out = append(out, pid)
	}
	return out, nil
}

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ,
// 100 on Linux).
const clockTick = 10 * time.Millisecond

// CPU returns the user plus system CPU time process pid has used.
func CPU(pid int) (time.Duration, error) {
	p := path(pid, "stat")
	stat, err := os.ReadFile(p)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", p, err)
	}
	// State is field 3, so utime (14) and stime (15) are at offsets 11
	// and 12.
	fields := afterComm(stat)
	if len(fields) < 13 {
		return 0, fmt.Errorf("%s: too few fields", p)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%s: malformed CPU times", p)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// ChildrenCPU returns the CPU time used by each live child whose
// executable ends in suffix.
func ChildrenCPU(suffix string) (map[int]time.Duration, error) {
	pids, err := Children(suffix)
	if err != nil {
		return nil, err
	}
	out := make(map[int]time.Duration, len(pids))
	for _, pid := range pids {
		if d, err := CPU(pid); err == nil {
			out[pid] = d
		}
	}
	return out, nil
}
