import { zodResolver } from '@hookform/resolvers/zod';
import {
  Badge,
  Button,
  Center,
  Paper,
  Select,
  Stack,
  Table,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Controller, useForm } from 'react-hook-form';
import { z } from 'zod';
import { PageTitle, Section } from '../components/Section.tsx';
import { Shell } from '../components/Shell.tsx';
import { QueryState } from '../components/State.tsx';
import { useI18n } from '../i18n/index.tsx';
import { ApiError, api, get, post, withQuery } from '../lib/api.ts';
import { usePath } from '../lib/router.tsx';
import { continues, type HistoryPageDoc, type PageCheck, verifyHistoryPage } from '../lib/verify.ts';

/**
 * The customers' portal, against the rights module's /v1/portal/* API: sign in with a one-time
 * code, see my data, who read or received it (page by page, newest first, each page checked in
 * this browser against the signed checkpoint and the signed per-subject commitment), withdraw
 * consents, file requests and complaints.
 */
const Contact = z.object({ address: z.string().trim().min(3).max(254) });
const Code = z.object({ code: z.string().regex(/^[0-9]{4,8}$/) });

function SignIn() {
  const { t } = useI18n();
  const qc = useQueryClient();
  const [challenge, setChallenge] = useState<string>();
  const f1 = useForm<z.infer<typeof Contact>>({ resolver: zodResolver(Contact) as never });
  const f2 = useForm<z.infer<typeof Code>>({ resolver: zodResolver(Code) as never });
  const login = useMutation({
    mutationFn: (b: z.infer<typeof Contact>) =>
      post<{ challenge: string; expiresAt: string }>('/v1/portal/login', b),
    onSuccess: (r) => setChallenge(r.challenge),
  });
  const verify = useMutation({
    // The server answers with an httpOnly cookie (custodian_portal); the token in the body is ignored.
    mutationFn: (b: z.infer<typeof Code>) => post('/v1/portal/verify', { challenge, code: b.code }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['portal-me'] }),
  });
  return (
    <Center mih="100vh" component="main">
      <Paper withBorder p="lg" w={380}>
        <Stack>
          <Title order={1} size="h3">
            {t('app.portal')}
          </Title>
          {!challenge ? (
            <form onSubmit={f1.handleSubmit((v) => login.mutate(v))}>
              <Stack>
                <TextInput label={t('portal.contact')} autoComplete="username" {...f1.register('address')} />
                <Button type="submit" loading={login.isPending}>
                  {t('portal.sendCode')}
                </Button>
              </Stack>
            </form>
          ) : (
            <form onSubmit={f2.handleSubmit((v) => verify.mutate(v))}>
              <Stack>
                <TextInput
                  label={t('portal.code')}
                  inputMode="numeric"
                  autoComplete="one-time-code"
                  {...f2.register('code')}
                />
                <Button type="submit" loading={verify.isPending}>
                  {t('portal.verifyCode')}
                </Button>
              </Stack>
            </form>
          )}
          <QueryState isPending={false} error={login.error ?? verify.error} />
        </Stack>
      </Paper>
    </Center>
  );
}

function MyData() {
  const { t } = useI18n();
  const q = useQuery({
    queryKey: ['portal-me-data'],
    queryFn: () => get<{ fields?: Record<string, string> }>('/v1/portal/me'),
  });
  return (
    <div data-testid="page-portal-data">
      <PageTitle>{t('portal.myData')}</PageTitle>
      <QueryState isPending={q.isPending} error={q.error}>
        <Table aria-label={t('portal.myData')}>
          <Table.Tbody>
            {Object.entries(q.data?.fields ?? {}).map(([k, v]) => (
              <Table.Tr key={k}>
                <Table.Th scope="row">{k}</Table.Th>
                <Table.Td>{v}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </QueryState>
    </div>
  );
}

interface HistoryEvent {
  index: number;
  at: string;
  kind: string;
  roles: string[];
  staffRef: string | null;
  purpose: string | null;
  fields: string[];
  recipient: string | null;
  leafHash: string;
}
interface HistoryPageBody {
  size: number;
  events: HistoryEvent[];
  page: HistoryPageDoc;
  next: string | null;
}

/** Entries per page of the history (the API allows up to 500). */
const HISTORY_PAGE = 50;

function Verified({ ok, pending }: { ok: boolean; pending?: boolean }) {
  const { t } = useI18n();
  if (pending) return null;
  return (
    <Badge variant="light" c="dark.9" color={ok ? 'green' : 'red'} data-testid="proof-result">
      {ok ? t('common.verified') : t('common.notVerified')}
    </Badge>
  );
}

/**
 * His history, newest first, one page at a time ("Older" follows the page's cursor). Each page is
 * checked here when it arrives, with the log's public key: signatures, inclusion of every entry,
 * and the chain of his entries — the first page to the (count, head) signed for him, each older
 * page to where the page before it began. Once the oldest page is in and every link holds, nothing
 * was left out of what he has seen.
 */
function History() {
  const { t } = useI18n();
  const key = useQuery({
    queryKey: ['ledger-vkey'],
    queryFn: () => get<{ vkey: string }>('/v1/ledger/public-key'),
    staleTime: Number.POSITIVE_INFINITY,
  });
  const vkey = key.data?.vkey;
  const q = useInfiniteQuery({
    queryKey: ['portal-history', vkey],
    enabled: vkey !== undefined,
    initialPageParam: null as string | null,
    getNextPageParam: (last: { body: HistoryPageBody }) => last.body.next,
    queryFn: async ({ pageParam }) => {
      const body = await get<HistoryPageBody>(
        withQuery('/v1/portal/history', { limit: HISTORY_PAGE, cursor: pageParam }),
      );
      return { body, check: await verifyHistoryPage(body.page, vkey ?? '') };
    },
  });
  const [rechecked, setRechecked] = useState<PageCheck[]>();
  const pages = q.data?.pages ?? [];
  const checks = rechecked && rechecked.length === pages.length ? rechecked : pages.map((p) => p.check);
  // A page is good when it verifies and continues the one before it (the first: the signed head).
  const good = checks.map((c, i) => c.ok && (i === 0 ? c.newest : continues(c, checks[i - 1]!)));
  const allGood = good.length > 0 && good.every(Boolean);
  const last = pages.at(-1)?.body;
  const count = pages[0]?.body.page.count ?? 0;
  const shown = pages.reduce((n, p) => n + p.body.events.length, 0);
  const verifyAll = useMutation({
    mutationFn: async () => {
      setRechecked(await Promise.all(pages.map((p) => verifyHistoryPage(p.body.page, vkey ?? ''))));
    },
  });
  return (
    <div data-testid="page-portal-history">
      <PageTitle>{t('portal.history')}</PageTitle>
      <QueryState isPending={q.isPending || key.isPending} error={key.error ?? q.error}>
        <Button mb="sm" onClick={() => verifyAll.mutate()} loading={verifyAll.isPending}>
          {t('portal.verifyAll')}
        </Button>
        <Text size="sm" mb="sm" role="status" data-testid="history-status">
          {!allGood
            ? t('portal.historyBroken')
            : last?.next === null
              ? t('portal.historyComplete', { n: count })
              : t('portal.historyNewest', { shown, n: count })}
        </Text>
        <Table aria-label={t('portal.history')}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('history.at')}</Table.Th>
              <Table.Th>{t('history.actor')}</Table.Th>
              <Table.Th>{t('history.action')}</Table.Th>
              <Table.Th>{t('history.purpose')}</Table.Th>
              <Table.Th>{t('history.proof')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {pages.flatMap((p, i) =>
              p.body.events.map((e) => (
                <Table.Tr key={e.index} data-testid="history-row">
                  <Table.Td>{e.at}</Table.Td>
                  <Table.Td data-testid="history-who">
                    {[e.staffRef, e.roles.join(', '), e.recipient].filter(Boolean).join(' · ') || '—'}
                  </Table.Td>
                  <Table.Td>
                    {e.kind}
                    {e.fields.length > 0 && ` (${e.fields.join(', ')})`}
                  </Table.Td>
                  <Table.Td>{e.purpose ?? '—'}</Table.Td>
                  <Table.Td>
                    <Verified ok={good[i] === true && checks[i]?.entries[e.index] === true} />
                  </Table.Td>
                </Table.Tr>
              )),
            )}
          </Table.Tbody>
        </Table>
        {q.hasNextPage && (
          <Button
            mt="sm"
            variant="default"
            data-testid="history-older"
            onClick={() => void q.fetchNextPage()}
            loading={q.isFetchingNextPage}
          >
            {t('portal.older')}
          </Button>
        )}
      </QueryState>
    </div>
  );
}

function Consents() {
  const { t } = useI18n();
  const qc = useQueryClient();
  const q = useQuery({
    queryKey: ['portal-consents'],
    queryFn: () =>
      get<{
        consents: {
          id: string;
          purpose: string;
          recipientId: string | null;
          fields: string[];
          withdrawnAt: string | null;
        }[];
      }>('/v1/portal/consents'),
  });
  const withdraw = useMutation({
    mutationFn: (id: string) => post(`/v1/portal/consents/${id}/withdraw`),
    onSettled: () => qc.invalidateQueries({ queryKey: ['portal-consents'] }),
  });
  return (
    <div data-testid="page-portal-consents">
      <PageTitle>{t('portal.consents')}</PageTitle>
      <QueryState isPending={q.isPending} error={q.error}>
        <Table aria-label={t('portal.consents')}>
          <Table.Tbody>
            {(q.data?.consents ?? []).map((c) => (
              <Table.Tr key={c.id}>
                <Table.Td>{c.purpose}</Table.Td>
                <Table.Td>{c.recipientId ?? '—'}</Table.Td>
                <Table.Td>{c.fields.join(', ')}</Table.Td>
                <Table.Td>{c.withdrawnAt ? `withdrawn ${c.withdrawnAt}` : 'active'}</Table.Td>
                <Table.Td>
                  {!c.withdrawnAt && (
                    <Button size="compact-xs" variant="default" onClick={() => withdraw.mutate(c.id)}>
                      {t('consents.withdraw')}
                    </Button>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </QueryState>
      {withdraw.error && <QueryState isPending={false} error={withdraw.error} />}
    </div>
  );
}

const NewItem = z.object({ kind: z.string().min(1), details: z.string().min(1).max(4000) });

function Requests() {
  const { t } = useI18n();
  const qc = useQueryClient();
  const requests = useQuery({
    queryKey: ['portal-requests'],
    queryFn: () =>
      get<{ requests: { id: string; kind: string; status: string; dueAt: string }[] }>('/v1/portal/requests'),
  });
  const complaints = useQuery({
    queryKey: ['portal-complaints'],
    queryFn: () =>
      get<{
        complaints: {
          id: string;
          status: string;
          dueAt: string;
          details: { what: string };
          regulator: { name: string; channel: string };
        }[];
      }>('/v1/portal/complaints'),
  });
  const form = useForm<z.infer<typeof NewItem>>({
    resolver: zodResolver(NewItem) as never,
    defaultValues: { kind: 'access', details: '' },
  });
  const file = useMutation({
    mutationFn: (v: z.infer<typeof NewItem>) =>
      v.kind === 'complaint'
        ? post('/v1/portal/complaints', { what: v.details })
        : post('/v1/portal/requests', { kind: v.kind, details: v.details }),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ['portal-requests'] });
      void qc.invalidateQueries({ queryKey: ['portal-complaints'] });
    },
  });
  return (
    <div data-testid="page-portal-requests">
      <PageTitle>{t('portal.requests')}</PageTitle>
      <Section title={t('portal.newRequest')}>
        <form onSubmit={form.handleSubmit((v) => file.mutate(v))}>
          <Stack maw={480}>
            <Controller
              control={form.control}
              name="kind"
              render={({ field }) => (
                <Select
                  label={t('portal.kind')}
                  data={[
                    'access',
                    'copy',
                    'portability',
                    'correction',
                    'deletion',
                    'restriction',
                    'explanation',
                    'withdrawal',
                    'complaint',
                  ]}
                  value={field.value}
                  onChange={(v) => field.onChange(v ?? 'access')}
                  allowDeselect={false}
                />
              )}
            />
            <Textarea label={t('portal.details')} {...form.register('details')} />
            <Button type="submit" loading={file.isPending}>
              {t('common.submit')}
            </Button>
          </Stack>
        </form>
        {file.error && <QueryState isPending={false} error={file.error} />}
      </Section>
      <Section title={t('requests.title')}>
        <QueryState isPending={requests.isPending} error={requests.error}>
          {(requests.data?.requests ?? []).map((r) => (
            <Text key={r.id}>
              {r.kind} · {r.status} · {r.dueAt}
            </Text>
          ))}
        </QueryState>
      </Section>
      <Section title={t('complaints.title')}>
        <QueryState isPending={complaints.isPending} error={complaints.error}>
          {(complaints.data?.complaints ?? []).map((c) => (
            <Text key={c.id}>
              {c.details.what} · {c.status} · {c.regulator.name} ({c.regulator.channel})
            </Text>
          ))}
        </QueryState>
      </Section>
    </div>
  );
}

function Notices() {
  const { t } = useI18n();
  const q = useQuery({
    queryKey: ['portal-notices'],
    queryFn: () =>
      get<{ notices: { id: string; title: string; body: string; createdAt: string }[] }>(
        '/v1/portal/notices',
      ),
  });
  return (
    <div data-testid="page-portal-notices">
      <PageTitle>{t('portal.notices')}</PageTitle>
      <QueryState isPending={q.isPending} error={q.error}>
        {(q.data?.notices ?? []).map((n) => (
          <Section key={n.id} title={n.title}>
            <Text size="sm">{n.createdAt}</Text>
            <Text style={{ whiteSpace: 'pre-wrap' }}>{n.body}</Text>
          </Section>
        ))}
      </QueryState>
    </div>
  );
}

const PAGES = {
  '/portal/': ['portal.myData', MyData],
  '/portal/history': ['portal.history', History],
  '/portal/consents': ['portal.consents', Consents],
  '/portal/requests': ['portal.requests', Requests],
  '/portal/notices': ['portal.notices', Notices],
} as const;

export default function PortalApp() {
  const { t } = useI18n();
  const path = usePath();
  const qc = useQueryClient();
  const me = useQuery({
    queryKey: ['portal-me'],
    queryFn: () => get<unknown>('/v1/portal/me'),
    retry: false,
  });
  // The rights module is merged later: until then /v1/portal/* is 404 and the sign-in page shows.
  const signedIn = me.isSuccess;
  const missing = me.error instanceof ApiError && me.error.notAvailable;
  if (!signedIn)
    return (
      <>
        <SignIn />
        {missing && (
          <Center>
            <QueryState isPending={false} error={me.error} />
          </Center>
        )}
      </>
    );
  const key = (path in PAGES ? path : '/portal/') as keyof typeof PAGES;
  const [, Page] = PAGES[key];
  return (
    <Shell
      title={t('app.portal')}
      path={key}
      onSignOut={() => {
        void api('POST', '/v1/portal/logout', {})
          .catch(() => undefined)
          .then(() => qc.invalidateQueries({ queryKey: ['portal-me'] }));
      }}
      nav={Object.entries(PAGES).map(([href, [label]]) => ({ href, label: t(label) }))}
    >
      <Page />
    </Shell>
  );
}
