import { Badge, Button, FileInput, Group, Table, TextInput } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { PageTitle, Section } from '../components/Section.tsx';
import { cols, fmt, ServerTable } from '../components/ServerTable.tsx';
import { QueryState } from '../components/State.tsx';
import { useI18n } from '../i18n/index.tsx';
import { api, get, post } from '../lib/api.ts';
import { navigate } from '../lib/router.tsx';
import { clock } from './Overview.tsx';

interface AlertRow {
  id: string;
  kind: string;
  severity: string;
  actor: string | null;
  status: string;
  createdAt: string;
  attrs: Record<string, unknown>;
}

interface AlertDetail {
  alert: AlertRow & { detector: string | null; subject: string | null };
  evidence: { leafHash: string; index: number | null; treeSize: number | null }[];
}

interface OpenedIncident {
  id: string;
}

/** POST /v1/incidents from a signal (an alert or a trace), then the incident's page. */
function useOpenIncident() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (b: { title: string; source: 'alert' | 'trace'; sourceRef: string }) =>
      post<OpenedIncident>('/v1/incidents', b),
    onSuccess: (inc) => {
      void qc.invalidateQueries({ queryKey: ['/v1/incidents'] });
      navigate(`/console/incidents?open=${encodeURIComponent(inc.id)}`);
    },
  });
}

/** One alert opened: what fired, on whom, and the ledger entries it rests on; next steps. */
function AlertDetailSection({ id }: { id: string }) {
  const { t } = useI18n();
  const d = useQuery({ queryKey: ['alert', id], queryFn: () => get<AlertDetail>(`/v1/alerts/${id}`) });
  const incident = useOpenIncident();
  const a = d.data?.alert;
  return (
    <Section title={`${t('alerts.detail')} ${id}`} testId="alert-detail">
      <QueryState isPending={d.isPending} error={d.error}>
        {a && (
          <>
            <Table aria-label={t('alerts.detail')} mb="sm">
              <Table.Tbody>
                <Table.Tr>
                  <Table.Th scope="row">{t('alerts.kind')}</Table.Th>
                  <Table.Td>{a.detector ?? a.kind}</Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Th scope="row">{t('alerts.actor')}</Table.Th>
                  <Table.Td data-testid="alert-actor">{a.actor ?? '—'}</Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Th scope="row">{t('alerts.severity')}</Table.Th>
                  <Table.Td>{a.severity}</Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Th scope="row">{t('alerts.evidence')}</Table.Th>
                  <Table.Td className="mono">{fmt(a.attrs)}</Table.Td>
                </Table.Tr>
              </Table.Tbody>
            </Table>
            <Table aria-label={t('alerts.evidenceEntries')} mb="sm">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>index</Table.Th>
                  <Table.Th>leaf</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {(d.data?.evidence ?? []).slice(0, 20).map((e) => (
                  <Table.Tr key={e.leafHash} data-testid="alert-evidence">
                    <Table.Td>{e.index ?? '—'}</Table.Td>
                    <Table.Td className="mono">{e.leafHash.slice(0, 16)}…</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
            <Group gap="xs">
              <Button variant="default" onClick={() => navigate('/console/traces')}>
                {t('alerts.runTrace')}
              </Button>
              <Button
                variant="default"
                loading={incident.isPending}
                onClick={() =>
                  incident.mutate({
                    title: `${a.detector ?? a.kind}: ${a.actor ?? id}`,
                    source: 'alert',
                    sourceRef: id,
                  })
                }
              >
                {t('alerts.openIncident')}
              </Button>
            </Group>
            {incident.error && <QueryState isPending={false} error={incident.error} />}
          </>
        )}
      </QueryState>
    </Section>
  );
}

export function AlertsPage() {
  const { t } = useI18n();
  const qc = useQueryClient();
  // ack needs no reason; resolve and false-positive need one (at least a few words, checked by the API).
  const [reason, setReason] = useState('');
  const [open, setOpen] = useState<string>();
  const act = useMutation({
    mutationFn: ({ id, verb }: { id: string; verb: 'ack' | 'resolve' | 'false-positive' }) =>
      post(`/v1/alerts/${id}/${verb}`, verb === 'ack' ? {} : { reason }),
    onSettled: () => qc.invalidateQueries({ queryKey: ['/v1/alerts'] }),
  });
  const columns = [
    ...cols<AlertRow>([
      ['kind', t('alerts.kind')],
      ['severity', t('alerts.severity')],
      ['actor', t('alerts.actor')],
      ['status', t('alerts.status')],
      ['createdAt', t('alerts.created')],
    ]),
    {
      id: 'evidence',
      header: t('alerts.evidence'),
      cell: (c: any) => <span className="mono">{fmt(c.row.original.attrs)}</span>,
    },
  ];
  return (
    <div data-testid="page-alerts">
      <PageTitle>{t('nav.alerts')}</PageTitle>
      <TextInput
        label="Reason (for resolve / false positive)"
        value={reason}
        onChange={(e) => setReason(e.currentTarget.value)}
        maw={480}
        mb="sm"
        data-testid="alert-reason"
      />
      <ServerTable<AlertRow>
        url="/v1/alerts"
        rowsKey="alerts"
        cursorParam="before"
        nextKey="next"
        label={t('nav.alerts')}
        columns={columns as never}
        filterable
        testId="alerts-table"
        actions={(a) => (
          <Group gap={4} wrap="nowrap">
            <Button size="compact-xs" variant="default" onClick={() => setOpen(a.id)}>
              {t('customers.open')}
            </Button>
            {(a.status === 'open' || a.status === 'acknowledged' || a.status === 'true_positive') && (
              <>
                {a.status === 'open' && (
                  <Button
                    size="compact-xs"
                    variant="default"
                    onClick={() => act.mutate({ id: a.id, verb: 'ack' })}
                  >
                    {t('alerts.ack')}
                  </Button>
                )}
                <Button
                  size="compact-xs"
                  variant="default"
                  disabled={reason.trim().length === 0}
                  onClick={() => act.mutate({ id: a.id, verb: 'resolve' })}
                >
                  {t('alerts.close')}
                </Button>
                <Button
                  size="compact-xs"
                  variant="default"
                  disabled={reason.trim().length === 0}
                  onClick={() => act.mutate({ id: a.id, verb: 'false-positive' })}
                >
                  False positive
                </Button>
              </>
            )}
          </Group>
        )}
      />
      {act.error && <QueryState isPending={false} error={act.error} />}
      {open && <AlertDetailSection id={open} />}
    </div>
  );
}

interface Trace {
  id: string;
  createdAt: string;
  inputs: string[];
  summary: { rows: number; matched: number; candidates: number };
  candidates?: {
    rank: number;
    key: string;
    kind: string;
    llr: number;
    log10P: number;
    matched: number;
    exclusive: string[];
    verdict: string;
  }[];
}

async function toBase64(f: File): Promise<string> {
  const bytes = new Uint8Array(await f.arrayBuffer());
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function TracesPage() {
  const { t } = useI18n();
  const qc = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  const [open, setOpen] = useState<string>();
  const upload = useMutation({
    mutationFn: async (f: File) => api<Trace>('POST', '/v1/traces', { file: await toBase64(f) }),
    onSuccess: (tr) => {
      setOpen(tr.id);
      void qc.invalidateQueries({ queryKey: ['/v1/traces'] });
    },
  });
  const detail = useQuery({
    queryKey: ['trace', open],
    queryFn: () => get<Trace>(`/v1/traces/${open}`),
    enabled: Boolean(open),
  });
  const incident = useOpenIncident();
  const top = detail.data?.candidates?.[0];
  return (
    <div data-testid="page-traces">
      <PageTitle>{t('nav.traces')}</PageTitle>
      <Section title={t('traces.upload')}>
        <Group align="end">
          <FileInput
            label={t('traces.file')}
            value={file}
            onChange={setFile}
            w={320}
            clearable
            clearButtonProps={{ 'aria-label': 'Clear file' }}
          />
          <Button disabled={!file} loading={upload.isPending} onClick={() => file && upload.mutate(file)}>
            {t('common.submit')}
          </Button>
        </Group>
        {upload.error && <QueryState isPending={false} error={upload.error} />}
      </Section>
      <ServerTable<Trace>
        url="/v1/traces"
        rowsKey="traces"
        label={t('nav.traces')}
        columns={cols<Trace>([
          ['id', 'id'],
          ['createdAt', t('alerts.created')],
        ])}
        actions={(r) => (
          <Button size="compact-xs" variant="default" onClick={() => setOpen(r.id)}>
            {t('customers.open')}
          </Button>
        )}
      />
      {open && (
        <Section title={t('traces.candidates')} testId="trace-candidates">
          <QueryState isPending={detail.isPending} error={detail.error}>
            <Table aria-label={t('traces.candidates')}>
              <Table.Tbody>
                {(detail.data?.candidates ?? []).map((c) => (
                  <Table.Tr key={c.key} data-testid="trace-candidate">
                    <Table.Td>{c.rank}</Table.Td>
                    <Table.Td>{c.key}</Table.Td>
                    <Table.Td>{c.kind}</Table.Td>
                    <Table.Td>LLR {c.llr.toFixed(1)}</Table.Td>
                    <Table.Td>log10 p {c.log10P.toFixed(1)}</Table.Td>
                    <Table.Td>{c.matched}</Table.Td>
                    <Table.Td>{c.verdict}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
            {open && top && (
              <Button
                mt="sm"
                loading={incident.isPending}
                onClick={() =>
                  incident.mutate({
                    title: t('traces.incidentTitle', { who: top.key }),
                    source: 'trace',
                    sourceRef: open,
                  })
                }
              >
                {t('traces.openIncident')}
              </Button>
            )}
            {incident.error && <QueryState isPending={false} error={incident.error} />}
          </QueryState>
        </Section>
      )}
    </div>
  );
}

interface Incident {
  id: string;
  title: string;
  status: string;
  grade: string;
  affected: number;
  openedAt: string;
}

interface IncidentDetail extends Incident {
  clocks: { name: string; dueAt: string; metAt: string | null; status: string; leftMs: number }[];
}

export function IncidentsPage() {
  const { t } = useI18n();
  // `?open=inc_…` when arriving from an alert or a trace.
  const [open, setOpen] = useState<string | undefined>(
    () => new URLSearchParams(location.search).get('open') ?? undefined,
  );
  const detail = useQuery({
    queryKey: ['incident', open],
    queryFn: () => get<IncidentDetail>(`/v1/incidents/${open}`),
    enabled: Boolean(open),
  });
  return (
    <div data-testid="page-incidents">
      <PageTitle>{t('incidents.title')}</PageTitle>
      <ServerTable<Incident>
        url="/v1/incidents"
        rowsKey="incidents"
        label={t('incidents.title')}
        columns={[
          ...cols<Incident>([
            ['title', 'title'],
            ['status', t('alerts.status')],
            ['grade', t('alerts.severity')],
            ['affected', 'affected'],
            ['openedAt', t('alerts.created')],
          ]),
        ]}
        actions={(r) => (
          <Button size="compact-xs" variant="default" onClick={() => setOpen(r.id)}>
            {t('customers.open')}
          </Button>
        )}
      />
      {open && (
        <Section title={detail.data?.title ?? open} testId="incident-detail">
          <QueryState isPending={detail.isPending} error={detail.error}>
            <Table aria-label={t('incidents.clock')}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t('incidents.clock')}</Table.Th>
                  <Table.Th>due</Table.Th>
                  <Table.Th>{t('alerts.status')}</Table.Th>
                  <Table.Th>left</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {(detail.data?.clocks ?? []).map((c) => (
                  <Table.Tr key={c.name} data-testid="incident-clock">
                    <Table.Td>{c.name}</Table.Td>
                    <Table.Td>{c.dueAt}</Table.Td>
                    <Table.Td>{c.metAt ? `met ${c.metAt}` : c.status}</Table.Td>
                    <Table.Td>
                      <Badge variant="light" c="dark.9" color={c.leftMs < 0 ? 'red' : 'orange'}>
                        {clock(c.dueAt)}
                      </Badge>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </QueryState>
        </Section>
      )}
    </div>
  );
}

export function RequestsPage() {
  const { t } = useI18n();
  return (
    <div data-testid="page-requests">
      <PageTitle>{t('nav.requests')}</PageTitle>
      <Section title={t('requests.title')}>
        <ServerTable
          url="/v1/requests"
          rowsKey="requests"
          label={t('requests.title')}
          columns={cols([
            ['id', 'id'],
            ['kind', t('portal.kind')],
            ['status', t('alerts.status')],
            ['dueAt', t('incidents.clock')],
          ])}
        />
      </Section>
      <Section title={t('complaints.title')}>
        <ServerTable
          url="/v1/complaints"
          rowsKey="complaints"
          label={t('complaints.title')}
          columns={cols([
            ['id', 'id'],
            ['status', t('alerts.status')],
            ['dueAt', t('incidents.clock')],
          ])}
        />
      </Section>
    </div>
  );
}
