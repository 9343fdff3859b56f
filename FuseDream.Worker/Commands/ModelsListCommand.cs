using System.CommandLine;
using FuseDream.Models;

namespace FuseDream.Worker.Commands;

/// <summary><c>models list</c>: every catalog model with its size and whether it is in the store. Reads no weights.</summary>
internal static class ModelsListCommand
{
    public static Command Create(StoreContext context)
    {
        var command = new Command("list", "Show the catalog's models, their sizes and which are in the store.");
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var store = context.Open(parse);
            if (store is null)
                return ModelsCommand.BadInput;

            output.WriteLine($"Store:   {store.Directory}");
            output.WriteLine($"Catalog: {store.Catalog.Origin}");
            output.WriteLine();
            var rows = store.Catalog.Models.Select(m =>
            {
                var path = store.TryLocate(m.Id);
                var receipt = path is null ? null : store.ReadReceipt(m.Id);
                var status = path is null ? "missing"
                    : receipt is null ? "present (not verified yet)"
                    : $"present, verified {receipt.RecordedAt:yyyy-MM-dd}";
                var size = m.SizeBytes is long s ? (m.SizeIsEstimate ? "~" : "") + ModelText.FormatBytes(s) : "?";
                return new[] { m.Id, m.Kind, size, status, m.File };
            }).ToList();
            string[] header = ["ID", "KIND", "SIZE", "STATUS", "FILE"];
            var widths = header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
            output.WriteLine(Format(header, widths));
            foreach (var row in rows)
                output.WriteLine(Format(row, widths));
            return 0;
        });
        return command;
    }

    private static string Format(string[] cells, int[] widths) =>
        string.Join("  ", cells.Select((c, i) => i == cells.Length - 1 ? c : c.PadRight(widths[i]))).TrimEnd();
}
