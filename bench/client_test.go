package bench

import "testing"

func TestVerify_CountsLostAndMisorderedFrames(t *testing.T) {
	answer := "관리비는 매월"
	frame := func(seq int, typ, delta string) Frame { return Frame{Seq: seq, Type: typ, Delta: delta} }
	withAnswer := func(f Frame, a string) Frame { f.Answer = &a; return f }
	tests := []struct {
		name    string
		frames  []Frame
		emitted string
		want    Check
	}{
		{"in order and whole", []Frame{frame(1, "delta", "관리비는"), withAnswer(frame(2, "complete", " 매월"), answer)}, answer,
			Check{Complete: true}},
		{"a frame missing", []Frame{frame(1, "delta", "관리비는"), frame(3, "complete", "")}, answer,
			Check{Lost: 2, Complete: true}},
		{"swapped frames", []Frame{frame(2, "delta", " 매월"), frame(1, "delta", "관리비는"), frame(3, "complete", "")}, answer,
			Check{Misordered: 1, Complete: true}},
		{"answer field differs", []Frame{frame(1, "delta", "관리비는"), withAnswer(frame(2, "complete", " 매월"), "x")}, answer,
			Check{Lost: 1, Complete: true}},
		{"ended with an error", []Frame{frame(1, "delta", "관리비는"), frame(2, "error", "")}, "관리비는",
			Check{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Verify(Answer{Frames: tt.frames}, tt.emitted); got != tt.want {
				t.Errorf("Verify = %+v, want %+v", got, tt.want)
			}
		})
	}
}
