package procfs

import (
	"os"
	"os/exec"
	"slices"
	"testing"
)

func TestProcfs_ReadsThisProcessAndFindsItsChildren(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep command:", err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	for _, suffix := range []string{"", "/sleep"} {
		pids, err := Children(suffix)
		if err != nil || !slices.Contains(pids, pid) {
			t.Errorf("Children(%q) = %v, %v; want it to hold %d", suffix, pids, err, pid)
		}
	}
	if pids, _ := Children("/no-such-binary"); slices.Contains(pids, pid) {
		t.Errorf("Children(/no-such-binary) holds %d", pid)
	}
	for _, field := range []string{"VmRSS", "VmHWM"} {
		if kb, err := StatusKB(0, field); err != nil || kb <= 0 {
			t.Errorf("StatusKB(0, %s) = %d, %v", field, kb, err)
		}
	}
	if _, err := StatusKB(0, "NoSuchField"); err == nil {
		t.Error("StatusKB of a missing field: no error")
	}
	if err := ResetPeakRSS(); err != nil {
		t.Error(err)
	}
	if _, err := CPU(0); err != nil {
		t.Error(err)
	}
	cpu, err := ChildrenCPU("/sleep")
	if _, ok := cpu[pid]; err != nil || !ok {
		t.Errorf("ChildrenCPU(/sleep) = %v, %v; want an entry for %d", cpu, err, pid)
	}
}
