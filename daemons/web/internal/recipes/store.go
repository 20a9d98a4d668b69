package recipes

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

//go:embed shipped/*.yml
var shipped embed.FS

// SourceShipped is the Source of a compiled-in recipe.
const SourceShipped = "shipped"

// Ext is the extension of a recipe file.
const Ext = ".yml"

// Store finds recipes: the user's directory first, then the shipped set.
type Store struct {
	// Dir is <config>/agents; it may not exist.
	Dir string
}

// New returns the store of the recipes under configDir ($TEROK_CONFIG_DIR).
func New(configDir string) Store { return Store{Dir: filepath.Join(configDir, "agents")} }

// Shipped loads the compiled-in recipe name.
func Shipped(name string) (Recipe, error) {
	if err := ValidName(name); err != nil {
		return Recipe{}, err
	}
	b, err := shipped.ReadFile("shipped/" + name + Ext)
	if err != nil {
		return Recipe{}, fmt.Errorf("%w: %s has no shipped recipe", ErrUnknown, name)
	}
	r, err := Parse("shipped/"+name+Ext, name, b)
	r.Source = SourceShipped
	return r, err
}

// ShippedNames lists the compiled-in recipes' names, sorted.
func ShippedNames() []string {
	ents, _ := fs.ReadDir(shipped, "shipped")
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), Ext); ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Get loads one recipe: the user's file <Dir>/NAME.yml when there is one
// (shadowing a shipped recipe of that name; a broken one is refused, never
// replaced by the shipped one), else the shipped recipe.
func (s Store) Get(name string) (Recipe, error) {
	if err := ValidName(name); err != nil {
		return Recipe{}, err
	}
	isShipped := contains(ShippedNames(), name)
	if s.Dir != "" {
		file := filepath.Join(s.Dir, name+Ext)
		b, err := os.ReadFile(file)
		switch {
		case err == nil:
			r, err := Parse(file, name, b)
			r.Source, r.Shadows = file, isShipped
			return r, err
		case !errors.Is(err, fs.ErrNotExist):
			return Recipe{}, fmt.Errorf("read agent recipe %s: %w", file, err)
		}
	}
	if !isShipped {
		return Recipe{}, fmt.Errorf("%w: %s (no shipped recipe and no %s; `terok agents list` shows the agents there are)", ErrUnknown, name, filepath.Join(s.Dir, name+Ext))
	}
	return Shipped(name)
}

// Entry is one recipe in List: the recipe, or its name, source and error.
type Entry struct {
	Recipe
	Err error
}

// List returns every recipe by name, user files shadowing shipped ones.
// A user file that does not load is listed with its error (so one typo
// does not hide the rest); a file named other than NAME.yml is skipped.
func (s Store) List() ([]Entry, error) {
	names := map[string]bool{}
	for _, n := range ShippedNames() {
		names[n] = true
	}
	if s.Dir != "" {
		ents, err := os.ReadDir(s.Dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("list agent recipes in %s: %w", s.Dir, err)
		}
		for _, e := range ents {
			if n, ok := strings.CutSuffix(e.Name(), Ext); ok && !e.IsDir() {
				names[n] = true
			}
		}
	}
	var out []Entry
	for _, n := range slices.Sorted(maps.Keys(names)) {
		r, err := s.Get(n)
		if err != nil {
			r.Name = n
			if r.Source == "" {
				r.Source = filepath.Join(s.Dir, n+Ext)
			}
		}
		out = append(out, Entry{Recipe: r, Err: err})
	}
	return out, nil
}
