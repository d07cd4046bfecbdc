//go:build !linux

package lambda

// maxMemoryMB returns 0: peak memory is only read on Linux.
func maxMemoryMB(int) int { return 0 }
