import { zodResolver } from '@hookform/resolvers/zod';
import { Badge, Button, Group, Select, Table, Text, TextInput } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Controller, useForm } from 'react-hook-form';
import { z } from 'zod';
import { PageTitle, Section } from '../components/Section.tsx';
import { cols, ServerTable } from '../components/ServerTable.tsx';
import { QueryState } from '../components/State.tsx';
import { VerifyButton } from '../components/VerifyButton.tsx';
import { useI18n } from '../i18n/index.tsx';
import { get, post } from '../lib/api.ts';

/** The body of POST /v1/subjects/lookup (same rules as src/modules/access/access.routes.ts). */
const Lookup = z.object({
  field: z.enum(['mobile', 'email', 'id_number']),
  value: z.string().min(1).max(256),
  purpose: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/),
});
type LookupT = z.infer<typeof Lookup>;

const FIELDS = 'name,mobile,email,id_number,address,company';

interface ReadResult {
  subject: string;
  fields: Record<string, { view: string; value?: string }>;
}
interface HistoryEvent {
  at: string;
  actor: string;
  purpose: string;
  action: string;
  allowed: boolean;
  leafHash: string;
}

function Subject({ id, purpose }: { id: string; purpose: string }) {
  const { t } = useI18n();
  const read = useQuery({
    queryKey: ['subject', id, purpose],
    queryFn: () => get<ReadResult>(`/v1/subjects/${id}`, { purpose, fields: FIELDS }),
  });
  const qc = useQueryClient();
  const historyUrl = `/v1/subjects/${id}/access-history`;
  // Keyset-paged by the server (cursor over (at, id)); only the time column sorts, the filter is an actor id.
  const historyColumns = cols<HistoryEvent>([
    ['at', t('history.at')],
    ['actor', t('history.actor')],
    ['purpose', t('history.purpose')],
    ['action', t('history.action')],
  ]).map((c) => ({
    ...c,
    enableSorting: (c as { accessorKey?: string }).accessorKey === 'at',
    ...((c as { accessorKey?: string }).accessorKey === 'action'
      ? {
          cell: (x: { row: { original: HistoryEvent } }) =>
            x.row.original.allowed ? x.row.original.action : `${x.row.original.action} (denied)`,
        }
      : {}),
  }));
  return (
    <>
      <Section title={t('customers.fields')} testId="subject-fields">
        <QueryState isPending={read.isPending} error={read.error}>
          <Table aria-label={t('customers.fields')}>
            <Table.Tbody>
              {Object.entries(read.data?.fields ?? {}).map(([f, v]) => (
                <Table.Tr key={f}>
                  <Table.Th scope="row">{f}</Table.Th>
                  <Table.Td>{v.value ?? '—'}</Table.Td>
                  <Table.Td>
                    <Badge variant="light" c="dark.9" color="gray">
                      {v.view}
                    </Badge>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </QueryState>
      </Section>
      <Section title={t('customers.history')} testId="subject-history">
        <Button
          size="xs"
          variant="default"
          mb="xs"
          onClick={() => void qc.invalidateQueries({ queryKey: [historyUrl] })}
        >
          {t('common.refresh')}
        </Button>
        <ServerTable<HistoryEvent>
          url={historyUrl}
          rowsKey="events"
          label={t('customers.history')}
          columns={historyColumns as never}
          pageSize={50}
          filterable
          actions={(e) => <VerifyButton leafHash={e.leafHash} />}
        />
      </Section>
    </>
  );
}

export default function Customers() {
  const { t } = useI18n();
  const [open, setOpen] = useState<string>();
  const form = useForm<LookupT>({
    resolver: zodResolver(Lookup) as never,
    defaultValues: { field: 'mobile', value: '', purpose: 'investigation' },
  });
  const lookup = useMutation({
    mutationFn: (b: LookupT) => post<{ subjects: string[] }>('/v1/subjects/lookup', b),
  });
  return (
    <div data-testid="page-customers">
      <PageTitle>{t('nav.customers')}</PageTitle>
      <Section title={t('customers.search')}>
        <form onSubmit={form.handleSubmit((v) => lookup.mutate(v))}>
          <Group align="end">
            <Controller
              control={form.control}
              name="field"
              render={({ field }) => (
                <Select
                  label={t('customers.field')}
                  data={[
                    { value: 'mobile', label: t('field.mobile') },
                    { value: 'email', label: t('field.email') },
                    { value: 'id_number', label: t('field.id_number') },
                  ]}
                  value={field.value}
                  onChange={(v) => field.onChange(v ?? 'mobile')}
                  allowDeselect={false}
                />
              )}
            />
            <TextInput label={t('customers.value')} autoComplete="off" {...form.register('value')} />
            <TextInput label={t('customers.purpose')} {...form.register('purpose')} />
            <Button type="submit" loading={lookup.isPending}>
              {t('customers.search')}
            </Button>
          </Group>
          <Text size="sm" mt="xs">
            {t('customers.recorded')}
          </Text>
        </form>
        <QueryState isPending={false} error={lookup.error}>
          {lookup.data && (
            <Group mt="sm" data-testid="lookup-results">
              {lookup.data.subjects.length === 0 && <Text>{t('common.empty')}</Text>}
              {lookup.data.subjects.map((s) => (
                <Button key={s} variant="light" size="xs" onClick={() => setOpen(s)}>
                  {t('customers.open')} {s}
                </Button>
              ))}
            </Group>
          )}
        </QueryState>
      </Section>
      {open && <Subject id={open} purpose={form.getValues('purpose')} />}
    </div>
  );
}
