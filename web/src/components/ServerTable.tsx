import { Button, Group, Table, Text, TextInput } from '@mantine/core';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import type { PaginationState, SortingState } from '@tanstack/react-table';
import { getCoreRowModel, type LegacyColumnDef, useLegacyTable } from '@tanstack/react-table/legacy';
import { type ReactNode, useMemo, useState } from 'react';
import { useI18n } from '../i18n/index.tsx';
import { get, type Query } from '../lib/api.ts';
import { QueryState } from './State.tsx';

/**
 * A table whose paging, sorting and filtering are done by the server. It asks for `limit` rows and
 * passes `cursor` (from the previous page's `nextCursor`), `sort`/`order` and the filter text as
 * `q`. An endpoint that returns no `nextCursor` has one page; see docs/web.md for which endpoints
 * still need cursor paging.
 */
export interface ServerTableProps<Row extends Record<string, any>> {
  url: string;
  /** The key of the array in the response (e.g. 'alerts'). */
  rowsKey: string;
  columns: LegacyColumnDef<Row, any>[];
  query?: Query;
  pageSize?: number;
  filterable?: boolean;
  label: string;
  actions?: (row: Row) => ReactNode;
  testId?: string;
  /** The query parameter that carries the cursor (`cursor`; the alerts API calls it `before`). */
  cursorParam?: string;
  /** The response key of the next page's cursor (`nextCursor`; the alerts API calls it `next`). */
  nextKey?: string;
}

export function ServerTable<Row extends Record<string, any>>(props: ServerTableProps<Row>) {
  const { t } = useI18n();
  const pageSize = props.pageSize ?? 25;
  const [pagination, setPagination] = useState<PaginationState>({ pageIndex: 0, pageSize });
  const [sorting, setSorting] = useState<SortingState>([]);
  const [filter, setFilter] = useState('');
  // Cursor of page i is cursors[i] (page 0 has none).
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const sort = sorting[0];
  const q = useQuery({
    queryKey: [props.url, props.query, pagination.pageIndex, cursors[pagination.pageIndex], sort, filter],
    queryFn: () =>
      get<Record<string, unknown>>(props.url, {
        ...props.query,
        limit: pageSize,
        [props.cursorParam ?? 'cursor']: cursors[pagination.pageIndex],
        sort: sort?.id,
        order: sort ? (sort.desc ? 'desc' : 'asc') : undefined,
        q: filter || undefined,
      }),
    placeholderData: keepPreviousData,
  });
  const rows = useMemo(
    () => ((q.data?.[props.rowsKey] as Row[] | undefined) ?? []).slice(0, pageSize),
    [q.data, props.rowsKey, pageSize],
  );
  const nextCursor = (q.data?.[props.nextKey ?? 'nextCursor'] ?? undefined) as string | undefined;
  const columns = useMemo(() => {
    if (!props.actions) return props.columns;
    const render = props.actions;
    return [
      ...props.columns,
      { id: 'actions', header: '', cell: (c) => render(c.row.original) },
    ] as LegacyColumnDef<Row, any>[];
  }, [props.columns, props.actions]);
  const table = useLegacyTable<Row>({
    data: rows,
    columns,
    getCoreRowModel: getCoreRowModel(),
    manualPagination: true,
    manualSorting: true,
    manualFiltering: true,
    rowCount: nextCursor ? -1 : pagination.pageIndex * pageSize + rows.length,
    state: { pagination, sorting },
    onPaginationChange: setPagination,
    onSortingChange: setSorting,
  });
  const goNext = () => {
    setCursors((c) => {
      const next = [...c];
      next[pagination.pageIndex + 1] = nextCursor;
      return next;
    });
    setPagination((p: PaginationState) => ({ ...p, pageIndex: p.pageIndex + 1 }));
  };
  return (
    <div data-testid={props.testId}>
      {props.filterable && (
        <TextInput
          label={t('common.filter')}
          value={filter}
          onChange={(e) => {
            setFilter(e.currentTarget.value);
            setPagination((p: PaginationState) => ({ ...p, pageIndex: 0 }));
          }}
          mb="sm"
          maw={320}
        />
      )}
      <QueryState isPending={q.isPending} error={q.error}>
        {rows.length === 0 ? (
          <Text>{t('common.empty')}</Text>
        ) : (
          <Table.ScrollContainer minWidth={600}>
            <Table striped highlightOnHover aria-label={props.label}>
              <Table.Thead>
                {table.getHeaderGroups().map((hg) => (
                  <Table.Tr key={hg.id}>
                    {hg.headers.map((h) => {
                      const s = h.column.getIsSorted();
                      return (
                        <Table.Th
                          key={h.id}
                          aria-sort={s === 'asc' ? 'ascending' : s === 'desc' ? 'descending' : undefined}
                        >
                          {h.column.getCanSort() && h.id !== 'actions' ? (
                            <button
                              type="button"
                              className="sort-button"
                              onClick={h.column.getToggleSortingHandler()}
                            >
                              <table.FlexRender header={h} />
                              {s === 'asc' ? ' ▲' : s === 'desc' ? ' ▼' : ''}
                            </button>
                          ) : (
                            <table.FlexRender header={h} />
                          )}
                        </Table.Th>
                      );
                    })}
                  </Table.Tr>
                ))}
              </Table.Thead>
              <Table.Tbody>
                {table.getRowModel().rows.map((r) => (
                  <Table.Tr key={r.id}>
                    {r.getVisibleCells().map((c) => (
                      <Table.Td key={c.id}>
                        <table.FlexRender cell={c} />
                      </Table.Td>
                    ))}
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
        <Group mt="sm" gap="xs">
          <Button
            variant="default"
            size="xs"
            disabled={pagination.pageIndex === 0}
            onClick={() => setPagination((p: PaginationState) => ({ ...p, pageIndex: p.pageIndex - 1 }))}
          >
            {t('common.prev')}
          </Button>
          <Text size="sm">{t('common.page', { n: pagination.pageIndex + 1 })}</Text>
          <Button variant="default" size="xs" disabled={!nextCursor} onClick={goNext}>
            {t('common.next')}
          </Button>
        </Group>
      </QueryState>
    </div>
  );
}

/** Plain columns from accessor keys with a translated header. */
export function cols<Row extends Record<string, any>>(
  spec: [key: string, header: string][],
): LegacyColumnDef<Row, any>[] {
  return spec.map(([key, header]) => ({
    accessorKey: key,
    header,
    cell: (c) => fmt(c.getValue()),
  })) as LegacyColumnDef<Row, any>[];
}

export function fmt(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (Array.isArray(v)) return v.join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
