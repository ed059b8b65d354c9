import '@mantine/charts/styles.css';
import { BarChart } from '@mantine/charts';
import { Badge, Group, SimpleGrid, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { PageTitle, Section } from '../components/Section.tsx';
import { QueryState } from '../components/State.tsx';
import { useI18n } from '../i18n/index.tsx';
import { get } from '../lib/api.ts';
import { parseCheckpoint } from '../lib/verify.ts';

interface AlertRow {
  id: string;
  kind: string;
  severity: string;
  createdAt: string;
}

/** Hours and minutes until `deadline` (negative when overdue). */
export function clock(deadline: string, now = Date.now()): string {
  const ms = Date.parse(deadline) - now;
  const sign = ms < 0 ? '-' : '';
  const m = Math.floor(Math.abs(ms) / 60_000);
  return `${sign}${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

export default function Overview() {
  const { t } = useI18n();
  const alerts = useQuery({
    queryKey: ['alerts', 'open-overview'],
    queryFn: () => get<{ alerts: AlertRow[] }>('/v1/alerts', { status: 'open', limit: 1000 }),
  });
  const summary = useQuery({
    queryKey: ['detect-summary'],
    queryFn: () =>
      get<{
        reads: number;
        explained: number;
        explainedShare: number | null;
        alerts: { detector: string; open: number; total: number }[];
        suspended: number;
      }>('/v1/detect/summary'),
  });
  const incidents = useQuery({
    queryKey: ['incidents', 'open'],
    queryFn: () =>
      get<{ incidents: { id: string; title: string; grade: string; affected: number; status: string }[] }>(
        '/v1/incidents',
        {
          status: 'open',
          limit: 20,
        },
      ),
  });
  const due = useQuery({
    queryKey: ['requests', 'due'],
    queryFn: () =>
      get<{ requests: { id: string; kind: string; dueAt?: string }[] }>('/v1/requests', {
        due: 'soon',
        limit: 20,
      }),
  });
  const checkpoint = useQuery({
    queryKey: ['checkpoint'],
    queryFn: async () => parseCheckpoint(await get<string>('/v1/ledger/checkpoint')),
  });
  const perDetector = Object.entries(
    (alerts.data?.alerts ?? []).reduce<Record<string, number>>((acc, a) => {
      acc[a.kind] = (acc[a.kind] ?? 0) + 1;
      return acc;
    }, {}),
  ).map(([kind, count]) => ({ kind, count }));
  return (
    <div data-testid="page-overview">
      <PageTitle>{t('nav.overview')}</PageTitle>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Section title={t('overview.openAlerts')} testId="open-alerts">
          <QueryState isPending={alerts.isPending} error={alerts.error}>
            <Text size="xl" fw={700} data-testid="open-alert-count">
              {alerts.data?.alerts.length ?? 0}
            </Text>
            {perDetector.length > 0 && (
              <>
                <Text size="sm" mt="sm">
                  {t('overview.alertsByDetector')}
                </Text>
                <BarChart
                  h={180}
                  data={perDetector}
                  dataKey="kind"
                  series={[{ name: 'count', color: 'indigo.8' }]}
                />
              </>
            )}
          </QueryState>
        </Section>
        <Section title={t('overview.ledger')} testId="ledger-health">
          <QueryState isPending={checkpoint.isPending} error={checkpoint.error}>
            <Text>
              {t('overview.treeSize')}: <b data-testid="tree-size">{checkpoint.data?.size}</b>
            </Text>
            <Text className="mono">{checkpoint.data?.root}</Text>
          </QueryState>
        </Section>
        <Section title={t('overview.readsPerDay')}>
          <QueryState isPending={summary.isPending} error={summary.error}>
            <Text data-testid="reads-explained">
              {summary.data?.reads ?? 0} reads (30 days) ·{' '}
              {summary.data?.explainedShare == null
                ? '—'
                : `${Math.round(summary.data.explainedShare * 100)}% explained`}{' '}
              · {summary.data?.suspended ?? 0} suspended
            </Text>
            {(summary.data?.alerts.length ?? 0) > 0 && (
              <BarChart
                h={180}
                data={summary.data?.alerts ?? []}
                dataKey="detector"
                series={[
                  { name: 'open', color: 'red.9' },
                  { name: 'total', color: 'teal.9' },
                ]}
              />
            )}
          </QueryState>
        </Section>
        <Section title={t('overview.incidents')}>
          <QueryState isPending={incidents.isPending} error={incidents.error}>
            {(incidents.data?.incidents ?? []).map((i) => (
              <Group key={i.id} justify="space-between">
                <Text>{i.title}</Text>
                <Badge variant="light" c="dark.9" color="red">
                  {i.grade} · {i.affected}
                </Badge>
              </Group>
            ))}
          </QueryState>
        </Section>
        <Section title={t('overview.due')}>
          <QueryState isPending={due.isPending} error={due.error}>
            {(due.data?.requests ?? []).map((r) => (
              <Group key={r.id} justify="space-between">
                <Text>
                  {r.kind} {r.id}
                </Text>
                {r.dueAt && (
                  <Badge variant="light" c="dark.9" color="orange">
                    {clock(r.dueAt)}
                  </Badge>
                )}
              </Group>
            ))}
          </QueryState>
        </Section>
      </SimpleGrid>
    </div>
  );
}
