import { Badge, Button, FileInput, Group, Table } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { PageTitle, Section } from '../components/Section.tsx';
import { cols, fmt, ServerTable } from '../components/ServerTable.tsx';
import { QueryState } from '../components/State.tsx';
import { useI18n } from '../i18n/index.tsx';
import { api, get, post } from '../lib/api.ts';
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

export function AlertsPage() {
  const { t } = useI18n();
  const qc = useQueryClient();
  const act = useMutation({
    mutationFn: ({ id, verb }: { id: string; verb: string }) => post(`/v1/alerts/${id}/${verb}`),
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
      <ServerTable<AlertRow>
        url="/v1/alerts"
        rowsKey="alerts"
        label={t('nav.alerts')}
        columns={columns as never}
        filterable
        testId="alerts-table"
        actions={(a) =>
          a.status === 'open' ? (
            <Group gap={4} wrap="nowrap">
              <Button
                size="compact-xs"
                variant="default"
                onClick={() => act.mutate({ id: a.id, verb: 'ack' })}
              >
                {t('alerts.ack')}
              </Button>
              <Button
                size="compact-xs"
                variant="default"
                onClick={() => act.mutate({ id: a.id, verb: 'close' })}
              >
                {t('alerts.close')}
              </Button>
            </Group>
          ) : null
        }
      />
      {act.error && <QueryState isPending={false} error={act.error} />}
    </div>
  );
}

interface Trace {
  id: string;
  status?: string;
  createdAt?: string;
  candidates?: { actor: string; score: number; reasons?: string[] }[];
}

export function TracesPage() {
  const { t } = useI18n();
  const qc = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  const [open, setOpen] = useState<string>();
  const upload = useMutation({
    mutationFn: (f: File) => {
      const fd = new FormData();
      fd.append('file', f);
      return api<Trace>('POST', '/v1/traces', fd);
    },
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
  return (
    <div data-testid="page-traces">
      <PageTitle>{t('nav.traces')}</PageTitle>
      <Section title={t('traces.upload')}>
        <Group align="end">
          <FileInput label={t('traces.file')} value={file} onChange={setFile} w={320} clearable />
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
          ['status', t('alerts.status')],
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
                {(detail.data?.candidates ?? []).map((c, i) => (
                  <Table.Tr key={c.actor}>
                    <Table.Td>{i + 1}</Table.Td>
                    <Table.Td>{c.actor}</Table.Td>
                    <Table.Td>{c.score.toFixed(3)}</Table.Td>
                    <Table.Td>{fmt(c.reasons)}</Table.Td>
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

interface Incident {
  id: string;
  title?: string;
  status: string;
  severity?: string;
  deadline?: string;
  openedAt?: string;
}

export function IncidentsPage() {
  const { t } = useI18n();
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
            ['severity', t('alerts.severity')],
          ]),
          {
            id: 'clock',
            header: t('incidents.clock'),
            cell: (c: any) =>
              c.row.original.deadline ? (
                <Badge variant="light" c="dark.9" color="red">
                  {clock(c.row.original.deadline)}
                </Badge>
              ) : (
                '—'
              ),
          } as never,
        ]}
        filterable
      />
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
