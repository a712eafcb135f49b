/**
 * Path + method matching per telemt-API.md "Routing and Method Edge Cases": exact segments,
 * trailing slash trimmed when the path is longer than "/", query ignored, 405 with `Allow` when
 * the path shape exists for other methods, and `POST /v1/users/{username}` answering 404.
 */
import type { RouteSpec } from '../routes.js';
import { ApiError } from './errors.js';

export interface RouteMatch {
  readonly route: RouteSpec;
  readonly params: Readonly<Record<string, string>>;
}

interface CompiledRoute {
  readonly route: RouteSpec;
  readonly segments: readonly string[];
}

export function trimTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

export class Router {
  private readonly routes: readonly CompiledRoute[];

  constructor(routes: readonly RouteSpec[]) {
    this.routes = routes.map((route) => ({ route, segments: route.path.split('/') }));
  }

  /** Throws ApiError not_found / method_not_allowed. */
  match(method: string, rawPath: string): RouteMatch {
    const segments = trimTrailingSlash(rawPath).split('/');
    const shapeMatches: { route: RouteSpec; params: Record<string, string> }[] = [];
    let bestLiteral = -1;
    for (const c of this.routes) {
      const params = matchSegments(c.segments, segments);
      if (params === undefined) continue;
      // Literal segments win over parameters (e.g. a fixed path beside a `{name}` one).
      const literal = c.segments.filter((s) => !s.startsWith('{')).length;
      if (literal > bestLiteral) {
        bestLiteral = literal;
        shapeMatches.length = 0;
      }
      if (literal === bestLiteral) shapeMatches.push({ route: c.route, params });
    }
    if (shapeMatches.length === 0) throw new ApiError('not_found', 'Route not found');
    const hit = shapeMatches.find((m) => m.route.method === method);
    if (hit !== undefined) return hit;
    const first = shapeMatches[0];
    // The contract answers POST on the plain user route with 404, not 405.
    if (method === 'POST' && first !== undefined && first.route.path === '/v1/users/{username}') {
      throw new ApiError('not_found', 'Route not found');
    }
    const allow = [...new Set(shapeMatches.map((m) => m.route.method))].join(', ');
    throw new ApiError('method_not_allowed', 'Method not allowed', { headers: { Allow: allow } });
  }
}

function matchSegments(pattern: readonly string[], actual: readonly string[]): Record<string, string> | undefined {
  if (pattern.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] as string;
    const a = actual[i] as string;
    if (p.startsWith('{') && p.endsWith('}')) {
      if (a === '') return undefined;
      let value: string;
      try {
        value = decodeURIComponent(a);
      } catch {
        return undefined;
      }
      params[p.slice(1, -1)] = value;
    } else if (p !== a) {
      return undefined;
    }
  }
  return params;
}
