import { Alert, Badge, Button, Code, Group, NumberInput, Table, Text, TextInput } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { PageTitle, Section } from '../components/Section.tsx';
import { cols, ServerTable } from '../components/ServerTable.tsx';
import { QueryState } from '../components/State.tsx';
import { useI18n } from '../i18n/index.tsx';
import { get, post } from '../lib/api.ts';
import { parseCheckpoint, verifyCheckpoint, verifyInclusion } from '../lib/verify.ts';

interface ConsentRow {
  id: string;
  subject: string;
  purpose: string;
  recipient: string | null;
  status: string;
  grantedAt?: string;
}

export function ConsentsPage() {
  const { t } = useI18n();
  const qc = useQueryClient();
  const [subject, setSubject] = useState('');
  const withdraw = useMutation({
    mutationFn: (id: string) => post('/v1/consents/withdraw', { consentId: id, method: 'staff' }),
    onSettled: () => qc.invalidateQueries({ queryKey: ['/v1/consents'] }),
  });
  return (
    <div data-testid="page-consents">
      <PageTitle>{t('nav.consents')}</PageTitle>
      <TextInput
        label={t('consents.subject')}
        value={subject}
        onChange={(e) => setSubject(e.currentTarget.value.trim())}
        maw={360}
        mb="md"
      />
      {subject && (
        <ServerTable<ConsentRow>
          url="/v1/consents"
          rowsKey="consents"
          query={{ subject }}
          label={t('nav.consents')}
          columns={cols<ConsentRow>([
            ['purpose', t('history.purpose')],
            ['recipient', t('disclosures.recipients')],
            ['status', t('alerts.status')],
          ])}
          actions={(c) =>
            c.status === 'active' || c.status === 'granted' ? (
              <Button size="compact-xs" variant="default" onClick={() => withdraw.mutate(c.id)}>
                {t('consents.withdraw')}
              </Button>
            ) : null
          }
        />
      )}
      {withdraw.error && <QueryState isPending={false} error={withdraw.error} />}
    </div>
  );
}

export function DisclosuresPage() {
  const { t } = useI18n();
  return (
    <div data-testid="page-disclosures">
      <PageTitle>{t('nav.disclosures')}</PageTitle>
      <Section title={t('disclosures.recipients')}>
        <ServerTable
          url="/v1/recipients"
          rowsKey="recipients"
          label={t('disclosures.recipients')}
          columns={cols([
            ['id', 'id'],
            ['name', 'name'],
            ['country', 'country'],
            ['status', t('alerts.status')],
          ])}
        />
      </Section>
      <Section title={t('disclosures.disclosures')}>
        <ServerTable
          url="/v1/disclosures"
          rowsKey="disclosures"
          label={t('disclosures.disclosures')}
          columns={cols([
            ['id', 'id'],
            ['recipient', t('disclosures.recipients')],
            ['purpose', t('history.purpose')],
            ['subjects', 'subjects'],
            ['createdAt', t('alerts.created')],
          ])}
        />
      </Section>
    </div>
  );
}

interface Review {
  policy: { name: string; version: string };
  since: string;
  grants: {
    role: string;
    purpose: string;
    basis: string;
    fields: { field: string; view: string; via: string; used: boolean; lastUsed: string | null }[];
  }[];
}

export function ReviewPage() {
  const { t } = useI18n();
  const [days, setDays] = useState<number>(90);
  const q = useQuery({
    queryKey: ['review', days],
    queryFn: () => get<Review>('/v1/policy/review', { days }),
  });
  return (
    <div data-testid="page-review">
      <PageTitle>{t('nav.review')}</PageTitle>
      <NumberInput
        label={t('review.days')}
        value={days}
        min={1}
        max={365}
        onChange={(v) => setDays(Number(v) || 90)}
        maw={200}
        mb="md"
      />
      <QueryState isPending={q.isPending} error={q.error}>
        <Section title={t('review.grants')}>
          <Table aria-label={t('review.grants')}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>role</Table.Th>
                <Table.Th>{t('history.purpose')}</Table.Th>
                <Table.Th>field</Table.Th>
                <Table.Th>view</Table.Th>
                <Table.Th>{t('review.unused')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {(q.data?.grants ?? []).flatMap((g) =>
                g.fields.map((f) => (
                  <Table.Tr key={`${g.role}/${g.purpose}/${f.field}/${f.via}`}>
                    <Table.Td>{g.role}</Table.Td>
                    <Table.Td>{g.purpose}</Table.Td>
                    <Table.Td>{f.field}</Table.Td>
                    <Table.Td>
                      {f.view}
                      {f.via === 'break_glass' ? ' (break-glass)' : ''}
                    </Table.Td>
                    <Table.Td>
                      {f.used ? (
                        ''
                      ) : (
                        <Badge variant="light" c="dark.9" color="orange">
                          {t('review.unused')}
                        </Badge>
                      )}
                    </Table.Td>
                  </Table.Tr>
                )),
              )}
            </Table.Tbody>
          </Table>
        </Section>
      </QueryState>
    </div>
  );
}

interface SessionRow {
  id: string;
  actor: string;
  method: string;
  lastSeenAt: string;
  expiresAt: string;
  revokedAt: string | null;
}

export function ActorsPage() {
  const { t } = useI18n();
  const qc = useQueryClient();
  const revoke = useMutation({
    mutationFn: (id: string) => post(`/v1/sessions/${id}/revoke`),
    onSettled: () => qc.invalidateQueries({ queryKey: ['/v1/sessions'] }),
  });
  return (
    <div data-testid="page-actors">
      <PageTitle>{t('nav.actors')}</PageTitle>
      <Section title={t('actors.title')}>
        <ServerTable
          url="/v1/actors"
          rowsKey="actors"
          label={t('actors.title')}
          filterable
          columns={cols([
            ['id', 'id'],
            ['name', 'name'],
            ['kind', 'kind'],
            ['roles', 'roles'],
            ['status', t('alerts.status')],
          ])}
        />
      </Section>
      <Section title={t('actors.sessions')}>
        <ServerTable<SessionRow>
          url="/v1/sessions"
          rowsKey="sessions"
          query={{ active: 'true' }}
          label={t('actors.sessions')}
          columns={cols<SessionRow>([
            ['actor', t('alerts.actor')],
            ['method', 'method'],
            ['lastSeenAt', 'last seen'],
            ['expiresAt', 'expires'],
          ])}
          actions={(s) => (
            <Button size="compact-xs" variant="default" onClick={() => revoke.mutate(s.id)}>
              {t('actors.revoke')}
            </Button>
          )}
        />
      </Section>
    </div>
  );
}

export function LedgerPage() {
  const { t } = useI18n();
  const [index, setIndex] = useState<number>(0);
  const cp = useQuery({
    queryKey: ['ledger', 'checkpoint-verified'],
    queryFn: async () => {
      const note = await get<string>('/v1/ledger/checkpoint');
      const parsed = parseCheckpoint(note);
      const { vkey } = await get<{ vkey: string }>('/v1/ledger/public-key');
      return { note, parsed, signature: await verifyCheckpoint(parsed, vkey) };
    },
  });
  const proof = useMutation({
    mutationFn: async (i: number) => {
      const size = cp.data!.parsed.size;
      const p = await get<{ index: number; leafHash: string; proof: string[] }>(
        '/v1/ledger/proof/inclusion',
        {
          index: i,
          size,
        },
      );
      return { ...p, ok: await verifyInclusion(p.index, size, p.leafHash, p.proof, cp.data!.parsed.root) };
    },
  });
  return (
    <div data-testid="page-ledger">
      <PageTitle>{t('nav.ledger')}</PageTitle>
      <QueryState isPending={cp.isPending} error={cp.error}>
        <Section title={t('ledger.checkpoint')}>
          <Code block data-testid="checkpoint-note">
            {cp.data?.note}
          </Code>
          <Group mt="sm">
            <Text>{t('ledger.signature')}:</Text>
            <Badge
              data-testid="signature-status"
              variant="light"
              c="dark.9"
              color={
                cp.data?.signature === 'valid' ? 'green' : cp.data?.signature === 'invalid' ? 'red' : 'gray'
              }
            >
              {cp.data?.signature}
            </Badge>
          </Group>
          {cp.data?.signature === 'unsupported' && <Text size="sm">{t('ledger.noWebCrypto')}</Text>}
        </Section>
        <Section title={t('ledger.witness')}>
          <Text>
            {(cp.data?.parsed.signatures.length ?? 0) > 1
              ? cp.data?.parsed.signatures.map((s) => s.name).join(', ')
              : t('ledger.witnessUnknown')}
          </Text>
        </Section>
        <Section title={t('ledger.verifyProof')}>
          <Group align="end">
            <NumberInput
              label={t('ledger.proofIndex')}
              value={index}
              min={0}
              max={Math.max(0, (cp.data?.parsed.size ?? 1) - 1)}
              onChange={(v) => setIndex(Number(v) || 0)}
              w={200}
            />
            <Button onClick={() => proof.mutate(index)} loading={proof.isPending}>
              {t('common.verify')}
            </Button>
          </Group>
          {proof.data && (
            <Alert mt="sm" color={proof.data.ok ? 'green' : 'red'} data-testid="proof-outcome">
              {proof.data.ok ? t('ledger.proofOk') : t('ledger.proofBad')}
              <Text className="mono">{proof.data.leafHash}</Text>
            </Alert>
          )}
          {proof.error && <QueryState isPending={false} error={proof.error} />}
        </Section>
      </QueryState>
    </div>
  );
}
