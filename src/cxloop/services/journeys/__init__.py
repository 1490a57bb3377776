"""Journeys and effort (C6): stages, funnels and paths, effort per issue."""
