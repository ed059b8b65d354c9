import { zodResolver } from '@hookform/resolvers/zod';
import { Alert, Button, Center, Loader, Paper, PasswordInput, Stack, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense, useEffect, useRef } from 'react';
import { useForm } from 'react-hook-form';
import { type SessionViewT, SignInBody } from '../../../src/modules/session/session.schemas.ts';
import { Shell } from '../components/Shell.tsx';
import { useI18n } from '../i18n/index.tsx';
import { ApiError, api, get, post } from '../lib/api.ts';
import { usePath } from '../lib/router.tsx';

const Overview = lazy(() => import('./Overview.tsx'));
const Customers = lazy(() => import('./Customers.tsx'));
const triage = () => import('./Triage.tsx');
const admin = () => import('./Admin.tsx');
const Alerts = lazy(() => triage().then((m) => ({ default: m.AlertsPage })));
const Traces = lazy(() => triage().then((m) => ({ default: m.TracesPage })));
const Incidents = lazy(() => triage().then((m) => ({ default: m.IncidentsPage })));
const Requests = lazy(() => triage().then((m) => ({ default: m.RequestsPage })));
const Consents = lazy(() => admin().then((m) => ({ default: m.ConsentsPage })));
const Disclosures = lazy(() => admin().then((m) => ({ default: m.DisclosuresPage })));
const Review = lazy(() => admin().then((m) => ({ default: m.ReviewPage })));
const Actors = lazy(() => admin().then((m) => ({ default: m.ActorsPage })));
const Ledger = lazy(() => admin().then((m) => ({ default: m.LedgerPage })));

const PAGES = {
  '/console/': ['nav.overview', Overview],
  '/console/customers': ['nav.customers', Customers],
  '/console/alerts': ['nav.alerts', Alerts],
  '/console/traces': ['nav.traces', Traces],
  '/console/incidents': ['nav.incidents', Incidents],
  '/console/requests': ['nav.requests', Requests],
  '/console/consents': ['nav.consents', Consents],
  '/console/disclosures': ['nav.disclosures', Disclosures],
  '/console/review': ['nav.review', Review],
  '/console/actors': ['nav.actors', Actors],
  '/console/ledger': ['nav.ledger', Ledger],
} as const;

/** The API key form: the same zod schema as the server's POST /v1/session. */
const KeyForm = SignInBody.options[0];

function SignIn() {
  const { t } = useI18n();
  const qc = useQueryClient();
  const form = useForm<{ apiKey: string }>({ resolver: zodResolver(KeyForm) as never });
  const signIn = useMutation({
    mutationFn: (body: { apiKey: string } | { link: string }) => post<SessionViewT>('/v1/session', body),
    onSuccess: (s) => qc.setQueryData(['session'], s),
  });
  // A one-time login link (custodian console login-link) carries its secret in the fragment.
  const tried = useRef(false);
  useEffect(() => {
    const m = /#link=([A-Za-z0-9_]+)/.exec(location.hash);
    if (m?.[1] && !tried.current) {
      tried.current = true;
      history.replaceState(null, '', location.pathname);
      signIn.mutate({ link: m[1] });
    }
  }, [signIn]);
  return (
    <Center mih="100vh" component="main">
      <Paper withBorder p="lg" w={380}>
        <form
          onSubmit={form.handleSubmit((v) => {
            signIn.mutate({ apiKey: v.apiKey });
            form.reset();
          })}
        >
          <Stack>
            <Title order={1} size="h3">
              {t('signin.title')}
            </Title>
            <PasswordInput
              label={t('signin.apiKey')}
              description={t('signin.apiKeyHint')}
              // Mantine's dimmed description misses WCAG AA contrast on white (axe color-contrast).
              styles={{ description: { color: 'var(--mantine-color-gray-8)' } }}
              autoComplete="off"
              {...form.register('apiKey')}
              error={form.formState.errors.apiKey ? t('signin.failed') : undefined}
            />
            {signIn.isError && (
              <Alert color="red" role="alert">
                {t('signin.failed')}
              </Alert>
            )}
            <Button type="submit" loading={signIn.isPending}>
              {t('signin.submit')}
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}

export default function ConsoleApp() {
  const { t } = useI18n();
  const path = usePath();
  const qc = useQueryClient();
  const session = useQuery({
    queryKey: ['session'],
    queryFn: () => get<SessionViewT>('/v1/session'),
    retry: false,
  });
  if (session.isPending)
    return (
      <Center mih="100vh">
        <Loader role="status" aria-label={t('common.loading')} />
      </Center>
    );
  if (session.error instanceof ApiError && session.error.status === 401) return <SignIn />;
  if (!session.data) return <SignIn />;
  const key = (path in PAGES ? path : '/console/') as keyof typeof PAGES;
  const [, Page] = PAGES[key];
  const signOut = async () => {
    await api('DELETE', '/v1/session').catch(() => undefined);
    qc.clear();
    qc.setQueryData(['session'], null);
    await qc.invalidateQueries({ queryKey: ['session'] });
  };
  return (
    <Shell
      title={t('app.console')}
      path={key}
      who={`${session.data.actor.id} · ${session.data.actor.roles.join(', ')}`}
      onSignOut={() => void signOut()}
      nav={Object.entries(PAGES).map(([href, [label]]) => ({ href, label: t(label) }))}
    >
      <Suspense fallback={<Loader size="sm" role="status" aria-label={t('common.loading')} />}>
        <Page />
      </Suspense>
    </Shell>
  );
}
