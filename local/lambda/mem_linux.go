package lambda

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// maxMemoryMB returns the peak resident memory of process pid in MB
// (VmHWM), or 0 when it cannot be read.
func maxMemoryMB(pid int) int {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		fields := bytes.Fields(sc.Bytes())
		if len(fields) >= 2 && string(fields[0]) == "VmHWM:" {
			kb, err := strconv.Atoi(string(fields[1]))
			if err != nil {
				return 0
			}
			return (kb + 1023) / 1024
		}
	}
	return 0
}
