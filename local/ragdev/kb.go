package ragdev

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed kb/*.yaml
var embeddedKB embed.FS

// entry is one question-and-answer pair of a company's knowledge base.
type entry struct {
	// ID names the entry uniquely within its knowledge base.
	ID string `yaml:"id"`
	// Question is the canonical question the entry answers.
	Question string `yaml:"question"`
	// Keywords are extra terms and paraphrases that point at the entry.
	Keywords []string `yaml:"keywords"`
	// Answer is streamed verbatim when the entry is retrieved.
	Answer string `yaml:"answer"`
}

// knowledgeBase is the FAQ of one company, as a kb/*.yaml file holds it.
type knowledgeBase struct {
	// CompanyID is the meta.companyId the knowledge base serves.
	CompanyID string `yaml:"companyId"`
	// Name is the company's display name.
	Name string `yaml:"name"`
	// Entries are the company's questions and answers.
	Entries []entry `yaml:"entries"`
}

// loadKnowledgeBases reads every kb/*.yaml file of fsys as a knowledge base
// and indexes it by company id.
func loadKnowledgeBases(fsys fs.FS) (map[string]*index, error) {
	files, err := fs.Glob(fsys, "kb/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("list knowledge bases: %w", err)
	}
	indexes := make(map[string]*index, len(files))
	for _, name := range files {
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read knowledge base %s: %w", name, err)
		}
		var kb knowledgeBase
		if err := yaml.Unmarshal(raw, &kb); err != nil {
			return nil, fmt.Errorf("parse knowledge base %s: %w", name, err)
		}
		if err := kb.validate(); err != nil {
			return nil, fmt.Errorf("knowledge base %s: %w", path.Base(name), err)
		}
		if _, dup := indexes[kb.CompanyID]; dup {
			return nil, fmt.Errorf("knowledge base %s: company %q defined twice", name, kb.CompanyID)
		}
		indexes[kb.CompanyID] = newIndex(kb)
	}
	return indexes, nil
}

func (kb knowledgeBase) validate() error {
	if strings.TrimSpace(kb.CompanyID) == "" {
		return fmt.Errorf("companyId is empty")
	}
	seen := make(map[string]bool, len(kb.Entries))
	for i, e := range kb.Entries {
		switch {
		case e.ID == "":
			return fmt.Errorf("entry %d: id is empty", i)
		case seen[e.ID]:
			return fmt.Errorf("entry %q: duplicate id", e.ID)
		case strings.TrimSpace(e.Question) == "" || strings.TrimSpace(e.Answer) == "":
			return fmt.Errorf("entry %q: question or answer is empty", e.ID)
		}
		seen[e.ID] = true
	}
	return nil
}
