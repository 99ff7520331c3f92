import { type Terminal, visibleLength } from './terminal.ts';

export interface Column {
  header: string;
  /** Numbers read better right-aligned. @default 'left' */
  align?: 'left' | 'right';
}

/**
 * Prints rows as aligned columns, two spaces apart, a page at a time. The first page sets
 * the widths (so printing starts at once however many rows follow); a longer value in a
 * later page pushes the rest of its row right rather than being cut.
 */
export class TableWriter {
  private widths: number[] | null = null;

  constructor(
    private readonly terminal: Terminal,
    private readonly columns: readonly Column[],
  ) {}

  async page(rows: readonly (readonly string[])[]): Promise<void> {
    if (this.widths === null) {
      this.widths = this.columns.map((column, index) => Math.max(column.header.length, ...rows.map((row) => visibleLength(row[index] ?? ''))));
      await this.terminal.line(this.format(this.columns.map((column) => this.terminal.style('bold', column.header))));
    }
    for (const row of rows) await this.terminal.line(this.format(row));
  }

  /** Whether any row was printed (a header is printed with the first page). */
  get started(): boolean {
    return this.widths !== null;
  }

  private format(cells: readonly string[]): string {
    const widths = this.widths!;
    return cells
      .map((cell, index) => {
        const pad = ' '.repeat(Math.max(0, widths[index]! - visibleLength(cell)));
        if (index === cells.length - 1 && this.columns[index]?.align !== 'right') return cell;
        return this.columns[index]?.align === 'right' ? pad + cell : cell + pad;
      })
      .join('  ');
  }
}

/** Prints one table whose rows are all known. */
export async function printTable(terminal: Terminal, columns: readonly Column[], rows: readonly (readonly string[])[]): Promise<void> {
  await new TableWriter(terminal, columns).page(rows);
}
