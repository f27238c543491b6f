import {
  Body,
  Controller,
  Get,
  Inject,
  Injectable,
  Post,
  Req,
  Res,
  type BeforeApplicationShutdown,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { Observable, map } from 'rxjs';
import { AuthService, SignInRefused, isAclRefusal } from './auth.service.js';
import { runInSession, type SessionClients } from './context.js';
import { SESSION_COOKIE, cookieValue } from './sessions.js';
import type { AuthSessionView } from '../web/views.js';

/** The slices of express's request and response we touch. */
interface HttpRequest {
  path: string;
  secure?: boolean;
  headers: Record<string, string | string[] | undefined>;
}
interface HttpResponse {
  status(code: number): unknown;
  setHeader(name: string, value: string | string[]): unknown;
}

const cookieHeader = (req: HttpRequest): string | undefined => {
  const c = req.headers['cookie'];
  return Array.isArray(c) ? c.join('; ') : c;
};

function sessionCookie(req: HttpRequest, value: string, maxAgeSec?: number): string {
  return [
    `${SESSION_COOKIE}=${encodeURIComponent(value)}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    ...(req.secure ? ['Secure'] : []),
    ...(maxAgeSec !== undefined ? [`Max-Age=${maxAgeSec}`] : []),
  ].join('; ');
}

/** `/api/auth/...`: the session state, sign-in and sign-out. No answer ever carries the secret key. */
@Controller('api/auth')
export class AuthController {
  constructor(@Inject(AuthService) private readonly auth: AuthService) {}

  private view(session: SessionClients | undefined): AuthSessionView {
    return { aclRequired: this.auth.required(), signedIn: session !== undefined, accessKey: session?.accessKey ?? null };
  }

  @Get('session')
  session(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpResponse): AuthSessionView {
    res.setHeader('Cache-Control', 'no-store');
    return this.view(this.auth.sessions.get(cookieValue(cookieHeader(req), SESSION_COOKIE)));
  }

  @Post('sign-in')
  async signIn(
    @Body() body: Record<string, unknown>,
    @Req() req: HttpRequest,
    @Res({ passthrough: true }) res: HttpResponse,
  ): Promise<AuthSessionView | { error: string }> {
    res.setHeader('Cache-Control', 'no-store');
    const accessKey = typeof body['accessKey'] === 'string' ? body['accessKey'].trim() : '';
    const secretKey = typeof body['secretKey'] === 'string' ? body['secretKey'] : '';
    try {
      await this.auth.sessions.remove(cookieValue(cookieHeader(req), SESSION_COOKIE));
      const id = await this.auth.signIn(accessKey, secretKey);
      res.setHeader('Set-Cookie', sessionCookie(req, id));
      return this.view(this.auth.sessions.get(id));
    } catch (e) {
      res.status(e instanceof SignInRefused ? 401 : 502);
      return { error: e instanceof SignInRefused ? e.message : `could not check the keys: ${(e as Error).message}` };
    }
  }

  @Post('sign-out')
  async signOut(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpResponse): Promise<AuthSessionView> {
    res.setHeader('Cache-Control', 'no-store');
    await this.auth.sessions.remove(cookieValue(cookieHeader(req), SESSION_COOKIE));
    res.setHeader('Set-Cookie', sessionCookie(req, '', 0));
    return this.view(undefined);
  }
}

/**
 * Every other `/api` route runs as the request's signed-in session (ConsoleService.admin resolves
 * to its signing client), or is answered 401 when the pages must sign in first. An unsigned call
 * the cluster refuses for ACL turns sign-in on and answers 401 too; a signed one refused is 403.
 */
@Injectable()
export class AuthInterceptor implements NestInterceptor {
  constructor(@Inject(AuthService) private readonly auth: AuthService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<HttpRequest>();
    const res = context.switchToHttp().getResponse<HttpResponse>();
    if (!req.path.startsWith('/api/') || req.path.startsWith('/api/auth/')) return next.handle();
    const session = this.auth.sessions.get(cookieValue(cookieHeader(req), SESSION_COOKIE));
    if (!session && this.auth.required()) {
      res.status(401);
      return new Observable((sub) => {
        sub.next({ error: 'sign in with an access key and secret key: the cluster checks ACL', signIn: true });
        sub.complete();
      });
    }
    return new Observable((sub) =>
      runInSession(session, () =>
        next
          .handle()
          .pipe(map((body) => this.refused(body, session, res, req.path)))
          .subscribe(sub),
      ),
    );
  }

  private refused(body: unknown, session: SessionClients | undefined, res: HttpResponse, path: string): unknown {
    if (body === null || typeof body !== 'object' || !('error' in body) || typeof body.error !== 'string' || !isAclRefusal(body.error)) return body;
    if (session) {
      res.status(403);
      return body;
    }
    this.auth.markRefused(path);
    res.status(401);
    return { error: `sign in with an access key and secret key: ${body.error}`, signIn: true };
  }
}

/** Closes the sessions' clients and the service identity's at shutdown. */
@Injectable()
export class AuthLifecycle implements BeforeApplicationShutdown {
  constructor(@Inject(AuthService) private readonly auth: AuthService) {}

  async beforeApplicationShutdown(): Promise<void> {
    await this.auth.shutdown();
  }
}
