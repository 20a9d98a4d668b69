package projects

import (
	"slices"

	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// AddAllow adds target to project name's allowlist (shield.allow), for
// the project's future tasks; one already listed is kept once. Under the
// project's lock; the file's other keys are kept.
func (s *Service) AddAllow(name, target string) (webapi.ProjectInfo, error) {
	unlock := s.Hold(name)
	defer unlock()
	cur, err := s.store.Get(name)
	if err != nil {
		return webapi.ProjectInfo{}, err
	}
	if slices.Contains(cur.Shield.Allow, target) {
		return cur.Wire(), nil
	}
	p := cur.Project
	p.Shield.Allow = append(slices.Clone(p.Shield.Allow), target)
	info, err := s.store.Save(p)
	if err != nil {
		return webapi.ProjectInfo{}, err
	}
	return info.Wire(), nil
}
